package sfmc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// token is an access token and what came with it. It lives in memory only.
type token struct {
	access   string
	restBase string    // rest_instance_url without its trailing slash
	refresh  time.Time // replace the token from this instant on
}

// tokenCache holds the current token and coordinates refreshes: however many
// requests find the token stale at once, one of them fetches a new one and
// the others wait for it.
type tokenCache struct {
	mu     sync.Mutex
	cur    *token
	flight *tokenFlight // non-nil while a fetch is under way
}

type tokenFlight struct {
	done chan struct{}
	tok  *token
	err  error
}

// Authenticate obtains a token now unless the cached one is still fresh. Use
// it to fail fast on bad credentials or to check a configuration online.
func (c *Client) Authenticate(ctx context.Context) error {
	_, err := c.token(ctx, "")
	return err
}

// token returns a fresh token. stale, when not empty, is a token the server
// just rejected (401): it is replaced even if it has not expired, unless
// another request has already replaced it.
func (c *Client) token(ctx context.Context, stale string) (*token, error) {
	for {
		c.auth.mu.Lock()
		cur := c.auth.cur
		if cur != nil && cur.access != stale && c.cfg.Now().Before(cur.refresh) {
			c.auth.mu.Unlock()
			return cur, nil
		}
		if f := c.auth.flight; f != nil {
			c.auth.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("sfmc: waiting for a token: %w", ctx.Err())
			case <-f.done:
			}
			if f.err == nil {
				return f.tok, nil
			}
			if isCtxErr(f.err) && ctx.Err() == nil {
				// The request that fetched was cancelled, this one was
				// not: fetch again.
				continue
			}
			return nil, f.err
		}
		f := &tokenFlight{done: make(chan struct{})}
		c.auth.flight = f
		c.auth.mu.Unlock()

		f.tok, f.err = c.fetchToken(ctx)

		c.auth.mu.Lock()
		if f.err == nil {
			c.auth.cur = f.tok
		}
		c.auth.flight = nil
		c.auth.mu.Unlock()
		close(f.done)
		return f.tok, f.err
	}
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// tokenRequest is the client-credentials grant body.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	AccountID    any    `json:"account_id,omitempty"`
}

// tokenResponse is the /v2/token success body.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	RESTInstanceURL string `json:"rest_instance_url"`
}

// authEndpointError marks a token request error that says the auth URL is
// wrong (ErrAuthEndpoint) with a hint; other errors are returned as they are.
func (c *Client) authEndpointError(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusNotFound || apiErr.StatusCode == http.StatusMethodNotAllowed) {
		return fmt.Errorf("%w: %s/v2/token answers %d: check sfmc.auth_url (SFMC_AUTH_URL), the Authentication Base URI of the installed package: %w",
			ErrAuthEndpoint, c.authBase, apiErr.StatusCode, err)
	}
	if isHostNotFound(err) {
		return fmt.Errorf("%w: the host of %s does not resolve: check sfmc.auth_url (SFMC_AUTH_URL): %w", ErrAuthEndpoint, c.authBase, err)
	}
	return err
}

// isHostNotFound reports a DNS answer that the host does not exist.
func isHostNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

// fetchToken requests a token from {auth}/v2/token.
func (c *Client) fetchToken(ctx context.Context) (*token, error) {
	req := tokenRequest{GrantType: "client_credentials", ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret}
	if mid := strings.TrimSpace(c.cfg.AccountID); mid != "" {
		// Documented as a number; a MID that is not numeric goes as sent.
		if n, err := strconv.ParseInt(mid, 10, 64); err == nil {
			req.AccountID = n
		} else {
			req.AccountID = mid
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("sfmc: token request: %w", err)
	}
	var tr tokenResponse
	obtained := c.cfg.Now()
	err = c.do(ctx, call{
		method: http.MethodPost, url: c.authBase + "/v2/token", body: body,
		stat: StatToken, name: "POST token", noAuth: true,
	}, func(resp *http.Response) error { return decodeJSON(resp, &tr) })
	if err != nil {
		return nil, c.authEndpointError(err)
	}
	// Known to the redactor before anything can print it.
	c.cfg.Redactor.Add(tr.AccessToken)
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("sfmc: POST token: %w: no access_token", errBadResponse)
	}
	if tt := strings.ToLower(tr.TokenType); tt != "" && tt != "bearer" {
		return nil, fmt.Errorf("sfmc: POST token: %w: token_type %q is not Bearer", errBadResponse, c.serverText(tr.TokenType, 50))
	}
	rest := strings.TrimSpace(tr.RESTInstanceURL)
	if rest == "" {
		return nil, fmt.Errorf("sfmc: POST token: %w: no rest_instance_url", errBadResponse)
	}
	if !strings.Contains(rest, "://") {
		rest = "https://" + rest // the docs' example omits the scheme
	}
	base, err := checkEndpoint(rest, restHostSuffix, c.cfg.AllowAnyEndpoint)
	if err != nil {
		return nil, fmt.Errorf("sfmc: rest_instance_url from the token response: %w", err)
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = 18 * time.Minute // documented expires_in
	}
	ahead := life - c.cfg.RefreshMargin
	if ahead <= 0 {
		ahead = life / 2
	}
	c.log.Debug().Int64("expires_in", tr.ExpiresIn).Msg("sfmc: got a token")
	return &token{access: tr.AccessToken, restBase: base, refresh: obtained.Add(ahead)}, nil
}
