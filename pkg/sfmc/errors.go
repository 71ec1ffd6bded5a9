package sfmc

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrUnauthorized is matched (errors.Is) by an error from the token endpoint
// that rejects the credentials (401, or an OAuth invalid_client /
// unauthorized_client error) and by a REST 401 that persists after one token
// refresh. The CLI maps it to its "authentication failed" exit code.
var ErrUnauthorized = errors.New("sfmc: unauthorized")

// ErrAuthEndpoint is matched by a token request that found no token
// endpoint at the auth URL: a 404 or 405 from {auth}/v2/token, or a host name
// that does not resolve. It is a configuration error (sfmc.auth_url), not a
// transient failure, so it is not retried; the CLI maps it to its
// "authentication failed" exit code, like ErrUnauthorized.
var ErrAuthEndpoint = errors.New("sfmc: no token endpoint at the auth url")

// ErrForbidden is matched by a 403 response: the token lacks a scope
// ("Insufficient privileges") or is not valid on that endpoint.
var ErrForbidden = errors.New("sfmc: forbidden")

// ErrNotFound is matched by a 404 response (unknown or deleted asset or
// category, code 30003).
var ErrNotFound = errors.New("sfmc: not found")

// ValidationError is one entry of an error body's validationErrors (or
// errors) array, e.g. code 10005 "Asset names within a category and asset
// type must be unique. …".
type ValidationError struct {
	Code    int    `json:"errorcode"`
	Message string `json:"message"`
}

// APIError is a non-2xx response from SFMC. It never holds the request body,
// the client secret or the access token.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the body's errorcode (10006, 30003, 50100, …); 0 when absent.
	Code int
	// Message is the body's message, or for the token endpoint its
	// error_description.
	Message string
	// OAuthError is the token endpoint's "error" value (invalid_client,
	// unsupported_grant_type, …); empty for REST errors.
	OAuthError string
	// Endpoint names the call, e.g. "POST asset query" or "GET asset 1295064".
	Endpoint string
	// ValidationErrors lists the details of a 400/10006 response.
	ValidationErrors []ValidationError
	// RetryAfter is the server's Retry-After (header or retryAfter body
	// field); 0 when absent.
	RetryAfter time.Duration
}

// Error formats the error as
// "sfmc: POST asset query: 400 (10006): Request contained some validation errors: <details>".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("sfmc: ")
	b.WriteString(e.Endpoint)
	fmt.Fprintf(&b, ": %d", e.StatusCode)
	switch {
	case e.OAuthError != "":
		fmt.Fprintf(&b, " (%s)", e.OAuthError)
	case e.Code != 0:
		fmt.Fprintf(&b, " (%d)", e.Code)
	}
	msg := strings.TrimSpace(e.Message)
	if len(e.ValidationErrors) > 0 {
		msg = strings.TrimSuffix(msg, ".")
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	for i, v := range e.ValidationErrors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(strings.TrimSpace(v.Message))
		if v.Code != 0 {
			fmt.Fprintf(&b, " (%d)", v.Code)
		}
	}
	return b.String()
}

// Is reports whether the error matches ErrUnauthorized (401 or an OAuth
// credentials error), ErrForbidden (403) or ErrNotFound (404).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == 401 || e.OAuthError == "invalid_client" || e.OAuthError == "unauthorized_client"
	case ErrForbidden:
		return e.StatusCode == 403
	case ErrNotFound:
		return e.StatusCode == 404
	}
	return false
}

// errorBody is the union of SFMC's REST and OAuth error shapes.
type errorBody struct {
	Message          string            `json:"message"`
	ErrorCode        any               `json:"errorcode"`
	ValidationErrors []ValidationError `json:"validationErrors"`
	Errors           []ValidationError `json:"errors"`
	RetryAfter       any               `json:"retryAfter"`
	OAuthError       string            `json:"error"`
	OAuthDescription string            `json:"error_description"`
}
