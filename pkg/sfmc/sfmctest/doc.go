// Package sfmctest is a local emulator of the Salesforce Marketing Cloud
// (SFMC) REST API parts that backup-creator uses: the OAuth2 client-credentials
// token endpoint and the Content Builder asset and category APIs. It follows
// the checklist of the project's SFMC API reference (§15): the observed
// response shapes, error bodies, -06:00 timestamps, query operators, paging
// limits (page-size clamp, the 10,000-result window, the 50-value "in" limit)
// and validation rules.
//
// It deliberately does not import pkg/sfmc, so a client bug cannot hide in
// shared code. Tests drive it with raw HTTP or through the client, and use the
// admin methods (CreateAsset, UpdateAsset, SetModifiedDate, ...), scripted
// faults (InjectFault) and the OnRequest hook to shape each scenario without
// sleeping.
//
// Usage in a test:
//
//	srv := sfmctest.New(t, sfmctest.Options{Now: clock.Now})
//	srv.Seed(sfmctest.SeedOptions{ExtraBlocks: 1200}) // or Assets: 100_000, a realistic account
//	srv.InjectFault(sfmctest.Fault{Route: "query", After: 2, Status: 429, RetryAfter: 1})
//	cfg := sfmc.Config{AuthURL: srv.AuthURL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret()}
//	// ... run the code under test, then:
//	st := srv.Stats() // st.ByRouteStatus["query 429"] == 1
//
// The same server runs standalone through scripts/sfmc-emulator, and an HTTP
// admin API under /_emulator/ (loopback callers only, no bearer token) lets
// shell scripts create, change and delete assets, read stats and the request
// log, and inject faults:
//
//	POST   /_emulator/assets?mid=N            {"name","customerKey","content","typeId","categoryId","meta","file"(base64),"extra"}
//	GET    /_emulator/assets/{id}?mid=N       the asset document
//	PATCH  /_emulator/assets/{id}?mid=N       same fields; present ones replace
//	DELETE /_emulator/assets/{id}?mid=N
//	PUT    /_emulator/assets/{id}/modifiedDate?mid=N  {"modifiedDate":"2024-07-01T10:00:00-06:00"}
//	GET    /_emulator/ids?mid=N, GET /_emulator/dump?mid=N
//	POST   /_emulator/blocks?mid=N&n=100&typeId=197
//	POST   /_emulator/seed                    {"mid","extraBlocks","largeBlocks","tieBlocks","start","assets"}
//	GET    /_emulator/categories?mid=N, POST /_emulator/categories?mid=N {"name","parentId"}
//	GET|DELETE /_emulator/stats, GET|DELETE /_emulator/requests
//	POST   /_emulator/faults                  {"route","pageSize","after","times","status","retryAfter","retryAfterInBodyOnly","drop","cutAfterBytes","latency":"250ms","emptyPage",
//	                                           "message","echo","redirect","floodBytes","ignoreKeyset","ignoreIDRange","ignoreTypeFilter","endlessPages",
//	                                           "idOffset","count","omitCount"}
//	DELETE /_emulator/faults, POST /_emulator/expire-tokens
//
// Hostile modes, for testing that a client survives a broken or malicious
// server, are Fault fields too:
//
//   - Message: the error body's message (token: error_description) is this
//     text, control characters and all (ANSI escapes, CR/LF that would forge
//     a log line).
//   - Echo: the error message repeats the credential the request carried
//     (the token request's client_secret, a REST call's bearer token).
//   - Redirect with a 3xx Status: Location is Redirect + the request's path
//     and query (a token endpoint sending the secret elsewhere, an https
//     server sending the client to http).
//   - FloodBytes: 200 with a page whose one item has a content of that many
//     bytes, streamed (a 1 GB page costs the emulator nothing).
//   - IgnoreKeyset: the query ignores its filter, the folder list its $page:
//     the same first page every time.
//   - IgnoreIDRange: the query drops its id ≥ / id < conditions, so each
//     partition of a parallel listing gets the assets of the others.
//   - IgnoreTypeFilter: the query drops its assetType condition, so each
//     chunk of a listing of more than 50 types gets the assets of the others.
//   - EndlessPages: every query gets a full page of new made-up assets, later
//     each time, under a count of two pages.
//   - IDOffset: a query is served as usual but every item's id in the
//     answer is shifted by this much (with PageSize 1: the probes of a
//     partitioned listing lie about the id range).
//   - Count / OmitCount: a query's answer reports that count instead of
//     the true number of matches, or none at all (the items are true).
//
// Options.TLS serves https with a certificate made at start (HTTPClient
// trusts it). scripts/sfmc-emulator switches the modes on with --hostile.
//
// Behaviour the reference marks as unconfirmed is configurable through
// Options (page-size clamp, quiet clamp or reject, result-window status, offset-less filter
// zone, empty-page items, create status, file body form, unstable order of
// equal sort keys, search-index lag, a Date header skewed against the
// modifiedDate clock).
package sfmctest
