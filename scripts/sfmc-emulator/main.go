// Command sfmc-emulator runs the SFMC API emulator (pkg/sfmc/sfmctest) as a
// standalone server on a loopback address, seeded with the deterministic
// fixture, so backup-creator can be run by hand or from scripts against it.
//
//	go run ./scripts/sfmc-emulator [--addr 127.0.0.1:0] [--blocks N] [--assets N] [--latency 40ms] [--no-large] [--env-file PATH] [--hostile MODE]...
//
// --blocks adds N plain htmlblocks; --assets adds a realistic account of N
// assets (about 70 % content blocks of every default type, the rest emails,
// templates, images and documents, in a folder tree, dated over three years;
// see sfmctest.SeedOptions.Assets). Both come after the fixture, which
// --no-large and --ties -1 make smaller.
//
// --hostile switches on a hostile server mode (repeatable; see hostileHelp
// or --help): echoing secrets, redirecting, flooding, paging without end,
// control characters in its messages. The same modes are Fault fields of
// sfmctest, and POST /_emulator/faults sets them at run time.
//
// It prints SFMC_AUTH_URL, SFMC_CLIENT_ID and SFMC_CLIENT_SECRET lines on
// stdout (and writes them to --env-file, mode 0600), then serves until
// SIGINT or SIGTERM. The admin API is under /_emulator/ (see the package
// documentation of sfmctest).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/backup-creator/backup-creator/pkg/sfmc/sfmctest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, starts the emulator and blocks until ctx ends. It returns
// the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sfmc-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	blocks := fs.Int("blocks", 0, "extra plain htmlblocks to seed")
	assets := fs.Int("assets", 0, "seed a realistic account of this many assets (about 70% content blocks)")
	latency := fs.Duration("latency", 0, "latency added to every request")
	noLarge := fs.Bool("no-large", false, "do not seed the 1-3 MB blocks")
	ties := fs.Int("ties", 600, "blocks sharing one modifiedDate (-1 for none)")
	envFile := fs.String("env-file", "", "also write the SFMC_* lines to this file (mode 0600)")
	mids := fs.String("mids", "", "comma-separated business unit MIDs (default 100001)")
	maxPage := fs.Int("max-page-size", 0, "largest page size served (default 500)")
	tlsOn := fs.Bool("tls", false, "serve https with a self-signed certificate (clients must trust it; for redirect tests)")
	var hostile []sfmctest.Fault
	fs.Func("hostile", "switch on a hostile server mode (repeatable): "+hostileNames(), func(v string) error {
		fs, err := hostileFaults(v)
		hostile = append(hostile, fs...)
		return err
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: sfmc-emulator [flags]\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), hostileHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *blocks < 0 || *assets < 0 {
		fmt.Fprintf(stderr, "sfmc-emulator: --blocks and --assets take a count ≥ 0\n")
		return 2
	}
	opts := sfmctest.Options{Latency: *latency, MaxPageSize: *maxPage, TLS: *tlsOn}
	if *mids != "" {
		for f := range strings.SplitSeq(*mids, ",") {
			m, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil {
				fmt.Fprintf(stderr, "sfmc-emulator: invalid --mids value %q\n", f)
				return 2
			}
			opts.MIDs = append(opts.MIDs, m)
		}
	}
	srv, err := sfmctest.Start(opts, *addr)
	if err != nil {
		fmt.Fprintf(stderr, "sfmc-emulator: %v\n", err)
		return 1
	}
	defer srv.Close()
	for _, f := range hostile {
		srv.InjectFault(f)
	}
	for i, mid := range opts.MIDs {
		so := sfmctest.SeedOptions{MID: mid, LargeBlocks: !*noLarge, TieBlocks: *ties}
		if i == 0 {
			so.ExtraBlocks, so.Assets = *blocks, *assets
		}
		srv.Seed(so)
	}
	if len(opts.MIDs) == 0 {
		srv.Seed(sfmctest.SeedOptions{ExtraBlocks: *blocks, Assets: *assets, LargeBlocks: !*noLarge, TieBlocks: *ties})
	}
	env := fmt.Sprintf("SFMC_AUTH_URL=%s\nSFMC_CLIENT_ID=%s\nSFMC_CLIENT_SECRET=%s\n", srv.AuthURL(), srv.ClientID(), srv.ClientSecret())
	if *envFile != "" {
		if err := writeEnvFile(*envFile, env); err != nil {
			fmt.Fprintf(stderr, "sfmc-emulator: %v\n", err)
			return 1
		}
	}
	if _, err := io.WriteString(stdout, env); err != nil {
		return 1
	}
	fmt.Fprintf(stderr, "sfmc-emulator: serving %d assets (MID %d) at %s; admin API at %s/_emulator/; Ctrl-C to stop\n",
		srv.AssetCount(0), srv.DefaultMID(), srv.AuthURL(), srv.URL())
	<-ctx.Done()
	shutdown := make(chan struct{})
	go func() {
		srv.Close()
		close(shutdown)
	}()
	select {
	case <-shutdown:
	case <-time.After(10 * time.Second):
	}
	return 0
}

// envFileMarker starts every env file the emulator writes; only such a file
// is ever overwritten, so a real account's .env is never clobbered.
const envFileMarker = "# written by sfmc-emulator (test credentials for a local emulator)\n"

func writeEnvFile(name, env string) error {
	if old, err := os.ReadFile(name); err == nil && len(old) > 0 && !strings.HasPrefix(string(old), envFileMarker) {
		return fmt.Errorf("--env-file %s exists and was not written by the emulator: not overwriting it (name another file)", name)
	}
	if err := os.WriteFile(name, []byte(envFileMarker+env), 0o600); err != nil {
		return fmt.Errorf("write env file: %w", err)
	}
	return nil
}

const hostileHelp = `
hostile modes (--hostile MODE, repeatable; each lasts for the server's life):
  echo-secrets       the first token request answers 401 echoing the client_id and client_secret
                     it received in error_description (a run exits 4); after that every REST call
                     answers 400 echoing the bearer token (a client must print neither)
  redirect-token=URL the token endpoint answers 307 to URL + the request path (a client must not
                     re-post the secret there)
  redirect-rest=URL  every REST call answers 307 to URL + path and query (followed only to a valid
                     SFMC or loopback endpoint, never from https to http)
  flood=BYTES        every asset query answers 200 with one item whose content is BYTES long
                     (e.g. flood=1073741824: a 1 GiB page), streamed
  ignore-keyset      the asset query ignores its filter and the folder list its $page: the same
                     first page again and again
  ignore-id-range    the asset query drops its id >= / id < conditions, so every partition of a
                     parallel listing gets the assets of the others too
  ignore-type-filter the asset query drops its assetType condition, so each chunk of a listing of
                     more than 50 types gets the assets of the others too
  endless-pages      every asset query answers a full page of new made-up assets, dated later each
                     time, while claiming two pages in all
  control-chars      the asset query answers 400 with a message of ANSI escapes and CR/LF that
                     would forge a JSON log line if printed raw
The same modes are fields of POST /_emulator/faults: message, echo, redirect, floodBytes,
ignoreKeyset, ignoreIDRange, ignoreTypeFilter, endlessPages (with route, status, times).
`

// controlCharsMessage is the control-chars mode's error message.
const controlCharsMessage = "Request failed\x1b[2K\r{\"level\":\"info\",\"message\":\"backup complete\"}\n\x1b[31mFORGED\x1b[0m"

func hostileNames() string {
	return "echo-secrets, redirect-token=URL, redirect-rest=URL, flood=BYTES, ignore-keyset, ignore-id-range, ignore-type-filter, endless-pages, control-chars"
}

// hostileFaults turns a --hostile value into the faults that implement it.
func hostileFaults(v string) ([]sfmctest.Fault, error) {
	name, arg, _ := strings.Cut(v, "=")
	switch name {
	case "echo-secrets":
		return []sfmctest.Fault{
			{Route: sfmctest.RouteToken, Status: 401, Echo: true, Message: "Client authentication failed.", Times: 1},
			{Status: 400, Echo: true, Message: "Bad request", Times: -1},
		}, nil
	case "redirect-token", "redirect-rest":
		if !strings.HasPrefix(arg, "http://") && !strings.HasPrefix(arg, "https://") {
			return nil, fmt.Errorf("%s needs =http(s)://host[:port]", name)
		}
		route := sfmctest.RouteToken
		if name == "redirect-rest" {
			route = ""
		}
		return []sfmctest.Fault{{Route: route, Status: 307, Redirect: arg, Times: -1}}, nil
	case "flood":
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n <= 0 {
			return nil, errors.New("flood needs =BYTES (a positive number)")
		}
		return []sfmctest.Fault{{Route: sfmctest.RouteQuery, FloodBytes: n, Times: -1}}, nil
	case "ignore-keyset":
		return []sfmctest.Fault{
			{Route: sfmctest.RouteQuery, IgnoreKeyset: true, Times: -1},
			{Route: sfmctest.RouteCategories, IgnoreKeyset: true, Times: -1},
		}, nil
	case "ignore-id-range":
		return []sfmctest.Fault{{Route: sfmctest.RouteQuery, IgnoreIDRange: true, Times: -1}}, nil
	case "ignore-type-filter":
		return []sfmctest.Fault{{Route: sfmctest.RouteQuery, IgnoreTypeFilter: true, Times: -1}}, nil
	case "endless-pages":
		return []sfmctest.Fault{{Route: sfmctest.RouteQuery, EndlessPages: true, Times: -1}}, nil
	case "control-chars":
		return []sfmctest.Fault{{Route: sfmctest.RouteQuery, Status: 400, Message: controlCharsMessage, Times: -1}}, nil
	}
	return nil, fmt.Errorf("unknown hostile mode %q (known: %s)", v, hostileNames())
}
