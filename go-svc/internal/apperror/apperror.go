// Package apperror is the one error type of the service, mapped once to an
// HTTP status and code and once to a gRPC status (contract/README.md).
package apperror

import (
	"errors"
	"log/slog"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/benchlab/go-svc/internal/models"
)

// Kind classifies an error; each kind has one HTTP status and one gRPC code.
type Kind int

const (
	Internal Kind = iota
	BadRequest
	NotFound
	MethodNotAllowed
	PayloadTooLarge
	UnsupportedMediaType
	Validation
)

// internalMessage is all a client ever sees of an internal error.
const internalMessage = "internal error"

// Error is a client-facing message of a given kind. Cause, if any, is logged
// for internal errors and never shown.
type Error struct {
	Kind    Kind
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New returns an error of the given kind whose message is shown to clients.
func New(kind Kind, message string) *Error {
	return &Error{Kind: kind, Message: message}
}

// Wrap returns an internal error; cause is logged, never shown.
func Wrap(cause error, context string) *Error {
	return &Error{Kind: Internal, Message: context, Cause: cause}
}

type httpMapping struct {
	status int
	code   string
}

var httpByKind = map[Kind]httpMapping{
	Internal:             {http.StatusInternalServerError, "internal"},
	BadRequest:           {http.StatusBadRequest, "bad_request"},
	NotFound:             {http.StatusNotFound, "not_found"},
	MethodNotAllowed:     {http.StatusMethodNotAllowed, "method_not_allowed"},
	PayloadTooLarge:      {http.StatusRequestEntityTooLarge, "payload_too_large"},
	UnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupported_media_type"},
	Validation:           {http.StatusUnprocessableEntity, "validation_failed"},
}

var grpcByKind = map[Kind]codes.Code{
	Internal:         codes.Internal,
	BadRequest:       codes.InvalidArgument,
	NotFound:         codes.NotFound,
	MethodNotAllowed: codes.Unimplemented,
	PayloadTooLarge:  codes.ResourceExhausted,
	// gRPC fixes its own content type: the library refuses a wrong one
	// with HTTP 415 before any handler, which gRPC clients read as UNKNOWN.
	// Never sent by a handler; mapped as the client would see it.
	UnsupportedMediaType: codes.Unknown,
	Validation:           codes.InvalidArgument,
}

// classify turns any error into an *Error, logging internal causes.
func classify(err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = Wrap(err, "unexpected error")
	}
	if e.Kind == Internal {
		slog.Error("internal error", "err", e.Error())
		return &Error{Kind: Internal, Message: internalMessage}
	}
	return e
}

// HTTP maps err to its status and the contract's error body.
func HTTP(err error) (int, models.ErrorBody) {
	e := classify(err)
	m := httpByKind[e.Kind]
	return m.status, models.ErrorBody{Error: models.ErrorDetail{Code: m.code, Message: e.Message}}
}

// GRPC maps err to a gRPC status error.
func GRPC(err error) error {
	e := classify(err)
	return status.Error(grpcByKind[e.Kind], e.Message)
}
