package sfmc_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backup-creator/backup-creator/pkg/redact"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

// Tests of a server that is broken or hostile (issue 10, items 9-13), each
// driven by one of the emulator's hostile fault modes.

func TestEchoedSecretAndTokenRedactedFromErrors(t *testing.T) {
	red := redact.New()
	e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.Redactor = red; c.MaxAttempts = 1 })
	id := e.srv.AddBlocks(0, 1, 197)[0]
	// The REST API echoes the bearer token it got.
	e.srv.InjectFault(sfmctest.Fault{Route: "asset", Status: 400, Echo: true, Message: "bad request"})
	_, restErr := e.c.GetAsset(t.Context(), id)
	// The token endpoint echoes the client secret.
	e.srv.InjectFault(sfmctest.Fault{Route: "token", Status: 401, Echo: true, Message: "Client authentication failed"})
	e.srv.ExpireAllTokens()
	_, err := e.c.GetAsset(t.Context(), id)
	var api *sfmc.APIError
	if !errors.As(err, &api) || !errors.Is(err, sfmc.ErrUnauthorized) {
		t.Fatalf("token echo: %v", err)
	}
	tokens := e.spy.Seen()
	if restErr == nil || len(tokens) == 0 {
		t.Fatalf("setup: rest error %v, %d tokens", restErr, len(tokens))
	}
	for _, err := range []error{restErr, err} {
		msg := err.Error()
		if !strings.Contains(msg, redact.Mark) {
			t.Errorf("the echo was not redacted but dropped or never sent: %q", msg)
		}
		for _, s := range append(tokens, e.srv.ClientSecret()) {
			if strings.Contains(msg, s) {
				t.Errorf("error %q contains a secret or token", msg)
			}
		}
	}
	// The caller's redactor learnt the token (for the log lines it writes).
	if got := red.String("x " + tokens[0]); strings.Contains(got, tokens[0]) {
		t.Errorf("Config.Redactor does not know the token: %q", got)
	}
}

func TestTokenRequestFollowsNoRedirect(t *testing.T) {
	other := sfmctest.New(t, sfmctest.Options{})
	for _, status := range []int{302, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, nil)
			e.srv.InjectFault(sfmctest.Fault{Route: "token", Status: status, Redirect: other.URL() + "/"})
			other.ResetStats()
			err := e.c.Authenticate(t.Context())
			var re *sfmc.RedirectError
			if !errors.As(err, &re) || re.Status != status {
				t.Fatalf("err = %v, want a *RedirectError with status %d", err, status)
			}
			if !strings.Contains(err.Error(), other.URL()+"/v2/token") {
				t.Errorf("error does not name the target: %v", err)
			}
			if n := other.Stats().ByRoute["token"]; n != 0 {
				t.Errorf("the client secret was re-posted to the redirect target (%d requests)", n)
			}
			if n := e.srv.Stats().ByRoute["token"]; n != 1 {
				t.Errorf("token requests = %d, want 1 (a redirect is not retried)", n)
			}
		})
	}
}

func TestRESTRedirectsChecked(t *testing.T) {
	t.Run("to a valid endpoint is followed", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, nil)
		id := e.srv.AddBlocks(0, 1, 197)[0]
		// Redirected to itself (loopback passes the endpoint check); the
		// second request is served normally.
		e.srv.InjectFault(sfmctest.Fault{Route: "asset", Status: 307, Redirect: e.srv.URL()})
		if _, err := e.c.GetAsset(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		if n := e.srv.Stats().ByRoute["asset"]; n != 2 {
			t.Errorf("asset requests = %d, want 2", n)
		}
	})
	t.Run("to a host outside the endpoint rules is refused", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, nil)
		id := e.srv.AddBlocks(0, 1, 197)[0]
		e.srv.InjectFault(sfmctest.Fault{Route: "asset", Status: 302, Redirect: "https://collector.invalid"})
		_, err := e.c.GetAsset(t.Context(), id)
		var re *sfmc.RedirectError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "collector.invalid") {
			t.Fatalf("err = %v, want a *RedirectError naming the host", err)
		}
		if n := e.srv.Stats().ByRoute["asset"]; n != 1 {
			t.Errorf("asset requests = %d, want 1 (a refused redirect is not retried)", n)
		}
	})
	t.Run("from https to http is refused", func(t *testing.T) {
		plain := sfmctest.New(t, sfmctest.Options{})
		tlsSrv := sfmctest.New(t, sfmctest.Options{TLS: true})
		id := tlsSrv.AddBlocks(0, 1, 197)[0]
		c, err := sfmc.New(sfmc.Config{AuthURL: tlsSrv.AuthURL(), ClientID: tlsSrv.ClientID(), ClientSecret: tlsSrv.ClientSecret(),
			HTTPClient: tlsSrv.HTTPClient(), MaxAttempts: 2, Sleep: (&sleeps{}).Sleep})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetAsset(t.Context(), id); err != nil {
			t.Fatalf("over https: %v", err)
		}
		tlsSrv.InjectFault(sfmctest.Fault{Route: "asset", Status: 307, Redirect: plain.URL()})
		_, err = c.GetAsset(t.Context(), id)
		var re *sfmc.RedirectError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "https to http") {
			t.Fatalf("err = %v, want a refused https→http redirect", err)
		}
		for _, r := range plain.Requests() {
			t.Errorf("the plain http server got %s %s (authorization sent: %v)", r.Method, r.Path, r.HadAuth)
		}
	})
}

func TestOversizedResponses(t *testing.T) {
	t.Run("page item over the item limit", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxItemBytes = 1 << 20 })
		e.srv.InjectFault(sfmctest.Fault{Route: "query", FloodBytes: 8 << 20, Times: -1})
		err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{}, func(sfmc.Asset) error { return nil })
		if !errors.Is(err, sfmc.ErrResponseTooLarge) {
			t.Fatalf("err = %v, want ErrResponseTooLarge", err)
		}
		for _, want := range []string{"item 1 of the page", "asset id 9990001", "sfmc.max_item_bytes"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		// The request log, not Stats: the server may still be writing
		// the flood it was cut off from when the client returns.
		if n := countRoute(e.srv, "query"); n != 1 {
			t.Errorf("query requests = %d, want 1 (not retried)", n)
		}
	})
	t.Run("page over the response limit", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxResponseBytes = 256 << 10 })
		ids := e.srv.AddBlocks(0, 20, 197)
		for _, id := range ids {
			if err := e.srv.UpdateAsset(0, id, func(a *sfmctest.AssetSpec) { a.Content = strings.Repeat("<p>x</p>", 4<<10) }); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{}, func(sfmc.Asset) error { got++; return nil })
		if !errors.Is(err, sfmc.ErrResponseTooLarge) || !strings.Contains(err.Error(), "sfmc.max_response_bytes") {
			t.Fatalf("err = %v, want ErrResponseTooLarge naming sfmc.max_response_bytes", err)
		}
		if got == 0 || got >= len(ids) {
			t.Errorf("%d items were handed over before the limit, want some but not all", got)
		}
	})
	t.Run("single asset over the item limit", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxItemBytes = 64 << 10 })
		id := e.srv.AddBlocks(0, 1, 197)[0]
		if err := e.srv.UpdateAsset(0, id, func(a *sfmctest.AssetSpec) { a.Content = strings.Repeat("y", 100<<10) }); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.GetAsset(t.Context(), id)
		if !errors.Is(err, sfmc.ErrResponseTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("GET asset %d", id)) {
			t.Fatalf("err = %v, want ErrResponseTooLarge naming the asset", err)
		}
	})
	t.Run("items within the limits keep their exact bytes", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxItemBytes = 64 << 10 })
		ids := e.srv.AddBlocks(0, 30, 197)
		got := listAll(t, e.c, sfmc.AssetQuery{})
		checkExactlyOnce(t, e, 0, got, ids)
	})
}

func TestEndlessPagingStops(t *testing.T) {
	t.Run("server ignores the keyset", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, nil)
		ids := e.srv.AddBlocks(0, 1200, 197)
		setDates(t, e.srv, ids, base, time.Second)
		// Bounded, so that a client without the check ends (with the
		// wrong result) instead of hanging the test.
		e.srv.InjectFault(sfmctest.Fault{Route: "query", IgnoreKeyset: true, Times: 50})
		err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{}, func(sfmc.Asset) error { return nil })
		if !errors.Is(err, sfmc.ErrEndlessPaging) || !strings.Contains(err.Error(), "again") {
			t.Fatalf("err = %v, want ErrEndlessPaging", err)
		}
		if n := e.srv.Stats().ByRoute["query"]; n != 2 {
			t.Errorf("query requests = %d, want 2 (the repeated page is the second)", n)
		}
	})
	t.Run("pages far beyond the count", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, nil)
		e.srv.InjectFault(sfmctest.Fault{Route: "query", EndlessPages: true, Times: 200})
		got := 0
		err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{}, func(sfmc.Asset) error { got++; return nil })
		if !errors.Is(err, sfmc.ErrEndlessPaging) || !strings.Contains(err.Error(), "counts as 1000") {
			t.Fatalf("err = %v, want ErrEndlessPaging naming the count", err)
		}
		if n := e.srv.Stats().ByRoute["query"]; n != 4*2+10+1 {
			t.Errorf("%d pages before stopping, want 4×2+10+1", n)
		}
	})
	t.Run("folders: server ignores $page", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.PageSize = 10 })
		for i := range 25 {
			if _, err := e.srv.CreateCategory(0, fmt.Sprintf("folder %02d", i), 0); err != nil {
				t.Fatal(err)
			}
		}
		e.srv.InjectFault(sfmctest.Fault{Route: "categories", IgnoreKeyset: true, Times: 50})
		err := e.c.ListCategories(t.Context(), func(sfmc.Category) error { return nil })
		if !errors.Is(err, sfmc.ErrEndlessPaging) {
			t.Fatalf("err = %v, want ErrEndlessPaging", err)
		}
	})
	t.Run("folders: more than MaxCategories", func(t *testing.T) {
		e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxCategories = 20 })
		for i := range 25 {
			if _, err := e.srv.CreateCategory(0, fmt.Sprintf("folder %02d", i), 0); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		err := e.c.ListCategories(t.Context(), func(sfmc.Category) error { got++; return nil })
		if !errors.Is(err, sfmc.ErrEndlessPaging) || !strings.Contains(err.Error(), "sfmc.max_categories") || got != 20 {
			t.Fatalf("err = %v after %d folders, want ErrEndlessPaging after 20", err, got)
		}
	})
}

func TestServerControlCharactersEscaped(t *testing.T) {
	e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.MaxAttempts = 1 })
	forged := "\x1b[2K\r{\"level\":\"info\",\"message\":\"backup complete\"}\n\u009b31m"
	e.srv.InjectFault(sfmctest.Fault{Route: "query", Status: 400, Message: "bad" + forged})
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{}, func(sfmc.Asset) error { return nil })
	if err == nil {
		t.Fatal("expected an error")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x1b\r\n\u009b") {
		t.Errorf("control characters reached the error text: %q", msg)
	}
	if !strings.Contains(msg, `\x1b[2K\r{"level"`) {
		t.Errorf("error text %q does not show the escaped message", msg)
	}
}

func countRoute(srv *sfmctest.Server, route string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Route == route {
			n++
		}
	}
	return n
}

// TestPagingBoundSparesHonestServers: clusters of equal modifiedDates just
// over half a page or just over a page (the keyset's worst cases) list
// completely within the endless-paging bound.
func TestPagingBoundSparesHonestServers(t *testing.T) {
	for _, cluster := range []int{11, 20, 21, 39} {
		t.Run(fmt.Sprint(cluster), func(t *testing.T) {
			e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.PageSize = 20 })
			ids := e.srv.AddBlocks(0, 1000, 197)
			for i, id := range ids {
				if err := e.srv.SetModifiedDate(0, id, base.Add(time.Duration(i/cluster)*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			got := listAll(t, e.c, sfmc.AssetQuery{})
			checkExactlyOnce(t, e, 0, got, ids)
			t.Logf("%d pages for %d assets in clusters of %d", e.srv.Stats().ByRoute["query"], len(ids), cluster)
		})
	}
}

// TestSlowCallbackDoesNotUseUpRequestTimeout: pages are streamed, so the
// callback runs while the response is open; a consumer slower than the
// request timeout (a slow destination behind the engine's worker pool) must
// not make the attempt time out.
//
// The timeout leaves room to decode the rest of the 5 MB page after the
// callback under -race on a loaded 2-core machine (1 s did not: CI saw the
// remaining reads run out of time); the callback still outlasts it.
func TestSlowCallbackDoesNotUseUpRequestTimeout(t *testing.T) {
	const timeout = 4 * time.Second
	e := newEnv(t, sfmctest.Options{}, func(c *sfmc.Config) { c.RequestTimeout = timeout; c.MaxAttempts = 1 })
	ids := e.srv.AddBlocks(0, 5, 197)
	for _, id := range ids {
		// Big enough that the rest of the page is still on the wire
		// after the first item.
		if err := e.srv.UpdateAsset(0, id, func(a *sfmctest.AssetSpec) { a.Content = strings.Repeat("<p>z</p>", 1<<17) }); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	err := e.c.QueryAssets(t.Context(), sfmc.AssetQuery{}, func(sfmc.Asset) error {
		got++
		if got == 1 {
			// The consumer is slow: longer than the whole request timeout.
			<-time.After(timeout + 300*time.Millisecond)
		}
		return nil
	})
	if err != nil || got != len(ids) {
		t.Fatalf("after a slow callback: %d of %d items, %v", got, len(ids), err)
	}
}
