// Package sfmc is a small client for the Salesforce Marketing Cloud REST API:
// the OAuth2 client-credentials token and the Content Builder asset and
// category endpoints that backup-creator reads and restores.
//
// One Client serves one business unit (ClientID + AccountID). It caches its
// access token in memory, reuses it for every request and replaces it shortly
// before expires_in runs out or once after a 401; concurrent requests that
// find the token stale share a single refresh. Endpoints are validated: the
// auth URL must be https://<subdomain>.auth.marketingcloudapis.com/ and the
// token's rest_instance_url https://<subdomain>.rest.marketingcloudapis.com/,
// unless they are on loopback (local emulators) or Config.AllowAnyEndpoint is
// set.
//
// Failed requests are retried up to Config.MaxAttempts times: 429 honours
// Retry-After (capped by Config.MaxRetryAfter), 5xx, resets, EOFs and
// timeouts back off exponentially with jitter. Every wait ends when the
// context does. Errors are *APIError values (errors.As) and match
// ErrUnauthorized, ErrForbidden and ErrNotFound (errors.Is); none of them
// contains the client secret or the token.
//
// The client does not trust the server: the token request follows no
// redirect (*RedirectError), other requests only to endpoints that pass the
// same checks and never from https to http; bodies are bounded
// (Config.MaxResponseBytes, Config.MaxItemBytes; ErrResponseTooLarge) and
// pages decoded item by item; a listing that does not advance stops with
// ErrEndlessPaging; texts from error bodies are redacted (the client
// secret, every token received, credentials in URLs) and their control
// characters escaped. Config.Redactor learns the secret and each token so
// that the caller can redact what it prints.
//
// QueryAssets lists assets by keyset on (modifiedDate, id), which works past
// SFMC's 10,000-result window, and hands each item's raw JSON to the caller
// byte for byte:
//
//	c, err := sfmc.New(sfmc.Config{AuthURL: authURL, ClientID: id, ClientSecret: secret})
//	if err != nil {
//		return err
//	}
//	err = c.QueryAssets(ctx, sfmc.AssetQuery{TypeIDs: []int{196, 197}, ModifiedSince: since},
//		func(a sfmc.Asset) error {
//			return save(a.ID, a.Raw)
//		})
//
// Timestamps: SFMC runs on UTC−06:00 without daylight saving. ParseTime reads
// its timestamps (offset-less values as −06:00) and FormatTime writes filter
// values with an explicit offset.
package sfmc
