package handlers

import (
	"encoding/json"

	"github.com/gin-gonic/gin"

	"github.com/benchlab/go-svc/internal/apperror"
)

// contentTypeJSON is exact: gin's c.JSON would add "; charset=utf-8".
const contentTypeJSON = "application/json"

// respond serializes v for this request and writes it with status.
func respond(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		RespondError(c, apperror.Wrap(err, "encode response"))
		return
	}
	c.Data(status, contentTypeJSON, body)
}

// RespondError writes err through the one apperror mapping.
func RespondError(c *gin.Context, err error) {
	status, body := apperror.HTTP(err)
	b, mErr := json.Marshal(body)
	if mErr != nil {
		// ErrorBody holds two strings; this cannot fail.
		panic(mErr)
	}
	c.Data(status, contentTypeJSON, b)
}
