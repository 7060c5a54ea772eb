package apperror

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMapping(t *testing.T) {
	tests := []struct {
		kind   Kind
		status int
		code   string
		grpc   codes.Code
	}{
		{BadRequest, http.StatusBadRequest, "bad_request", codes.InvalidArgument},
		{NotFound, http.StatusNotFound, "not_found", codes.NotFound},
		{MethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed", codes.Unimplemented},
		{PayloadTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large", codes.ResourceExhausted},
		{UnsupportedMediaType, http.StatusUnsupportedMediaType, "unsupported_media_type", codes.Unknown},
		{Validation, http.StatusUnprocessableEntity, "validation_failed", codes.InvalidArgument},
	}
	for _, tt := range tests {
		err := fmt.Errorf("wrapped: %w", New(tt.kind, "msg"))
		st, body := HTTP(err)
		if st != tt.status || body.Error.Code != tt.code || body.Error.Message != "msg" {
			t.Errorf("kind %d: HTTP = %d %+v", tt.kind, st, body)
		}
		gs := status.Convert(GRPC(err))
		if gs.Code() != tt.grpc || gs.Message() != "msg" {
			t.Errorf("kind %d: gRPC = %v", tt.kind, gs)
		}
	}
}

func TestInternalIsHidden(t *testing.T) {
	for _, err := range []error{errors.New("secret"), Wrap(errors.New("secret"), "context"), New(Internal, "secret")} {
		st, body := HTTP(err)
		if st != 500 || body.Error.Code != "internal" || body.Error.Message != "internal error" {
			t.Errorf("HTTP(%v) = %d %+v", err, st, body)
		}
		gs := status.Convert(GRPC(err))
		if gs.Code() != codes.Internal || gs.Message() != "internal error" {
			t.Errorf("GRPC(%v) = %v", err, gs)
		}
	}
}
