// Package config composes, defaults and validates backup-creator's
// configuration. It is the only package besides cmd that knows viper: every
// other package receives a typed Config.
//
// Precedence is flags > environment > config file > defaults. Every key can be
// set in the environment as BACKUP_CREATOR_<KEY> (dots become underscores:
// s3.region → BACKUP_CREATOR_S3_REGION); the SFMC credentials also read the
// conventional SFMC_CLIENT_ID, SFMC_CLIENT_SECRET, SFMC_CLIENT_SECRET_FILE,
// SFMC_AUTH_URL and SFMC_ACCOUNT_ID.
package config

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/backup-creator/backup-creator/pkg/backup/prune"
	"github.com/backup-creator/backup-creator/pkg/redact"
	"github.com/backup-creator/backup-creator/pkg/sfmc"
	"github.com/backup-creator/backup-creator/pkg/shard"
	"github.com/backup-creator/backup-creator/pkg/storage/azblob"
	"github.com/backup-creator/backup-creator/pkg/storage/gcs"
	"github.com/backup-creator/backup-creator/pkg/storage/local"
	"github.com/backup-creator/backup-creator/pkg/storage/s3"
)

// EnvPrefix prefixes the environment variable of every key.
const EnvPrefix = "BACKUP_CREATOR"

// SFMC holds the Marketing Cloud connection settings.
type SFMC struct {
	AuthURL  string `mapstructure:"auth_url"`
	ClientID string `mapstructure:"client_id"`
	// ClientSecret is never printed. Prefer ClientSecretFile or the environment.
	ClientSecret     Secret        `mapstructure:"client_secret"`
	ClientSecretFile string        `mapstructure:"client_secret_file"`
	AccountID        string        `mapstructure:"account_id"`
	AllowAnyEndpoint bool          `mapstructure:"allow_any_endpoint"`
	PageSize         int           `mapstructure:"page_size"`
	ListConcurrency  int           `mapstructure:"list_concurrency"`
	MaxAttempts      int           `mapstructure:"max_attempts"`
	RequestTimeout   time.Duration `mapstructure:"request_timeout"`
	RetryBaseDelay   time.Duration `mapstructure:"retry_base_delay"`
	RetryMaxDelay    time.Duration `mapstructure:"retry_max_delay"`
	MaxRetryAfter    time.Duration `mapstructure:"max_retry_after"`
	// MaxResponseBytes bounds one response body (a query page included);
	// MaxItemBytes one asset document in it.
	MaxResponseBytes int64 `mapstructure:"max_response_bytes"`
	MaxItemBytes     int64 `mapstructure:"max_item_bytes"`
}

// Log holds the logging settings.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Lock holds the destination lock settings.
type Lock struct {
	StaleAfter time.Duration `mapstructure:"stale_after"`
}

// Retention is the policy `prune` applies, and, with Auto, every successful
// run right after its backup (see pkg/backup/prune for the semantics).
type Retention struct {
	KeepLast    int    `mapstructure:"keep_last"`
	KeepHourly  int    `mapstructure:"keep_hourly"`
	KeepDaily   int    `mapstructure:"keep_daily"`
	KeepWeekly  int    `mapstructure:"keep_weekly"`
	KeepMonthly int    `mapstructure:"keep_monthly"`
	KeepYearly  int    `mapstructure:"keep_yearly"`
	KeepWithin  string `mapstructure:"keep_within"`
	Auto        bool   `mapstructure:"auto"`
}

// RetentionProblems lists what is wrong with the retention settings. run
// does not refuse to start over them (a retention mistake must not stop the
// backup); config validate and prune do.
func (c *Config) RetentionProblems() []string {
	pol, err := c.Retention.Policy()
	switch {
	case err != nil:
		return []string{err.Error()}
	case c.Retention.Auto && pol.Empty():
		return []string{"retention.auto is on but no retention.keep_* rule is set: set at least one, e.g. retention.keep_daily: 7"}
	}
	return nil
}

// Policy converts the retention settings into a prune policy.
func (r Retention) Policy() (prune.Policy, error) {
	within, err := prune.ParseDuration(r.KeepWithin)
	if err != nil {
		return prune.Policy{}, fmt.Errorf("retention.keep_within (--keep-within): %w", err)
	}
	p := prune.Policy{Last: r.KeepLast, Hourly: r.KeepHourly, Daily: r.KeepDaily, Weekly: r.KeepWeekly,
		Monthly: r.KeepMonthly, Yearly: r.KeepYearly, Within: within}
	if err := p.Validate(); err != nil {
		return prune.Policy{}, err
	}
	return p, nil
}

// Notify holds the notification settings (see pkg/notify). The webhook URLs,
// the ping URL and the SMTP password are secrets.
type Notify struct {
	SlackWebhookURL Secret `mapstructure:"slack_webhook_url"`
	WebhookURL      Secret `mapstructure:"webhook_url"`
	// PingURL is the health check (Healthchecks protocol) pinged at the
	// start and end of every run; it may contain {account_id}.
	PingURL Secret        `mapstructure:"ping_url"`
	On      string        `mapstructure:"on"`
	Timeout time.Duration `mapstructure:"timeout"`
	SMTP    SMTP          `mapstructure:"smtp"`
}

// Metrics holds the Prometheus settings (see pkg/metrics).
type Metrics struct {
	// Textfile is the node_exporter textfile written after every run.
	Textfile string `mapstructure:"textfile"`
	// PushgatewayURL receives the metrics after every run. Secret (it may
	// carry basic-auth credentials).
	PushgatewayURL Secret `mapstructure:"pushgateway_url"`
}

// SMTP holds the email notification settings.
type SMTP struct {
	Host     string   `mapstructure:"host"`
	Port     int      `mapstructure:"port"`
	Username string   `mapstructure:"username"`
	Password Secret   `mapstructure:"password"`
	From     string   `mapstructure:"from"`
	To       []string `mapstructure:"to"`
	StartTLS bool     `mapstructure:"starttls"`
}

// Config is backup-creator's whole configuration.
type Config struct {
	SFMC        SFMC          `mapstructure:"sfmc"`
	Dest        string        `mapstructure:"dest"`
	Types       []string      `mapstructure:"types"`
	Concurrency int           `mapstructure:"concurrency"`
	Timeout     time.Duration `mapstructure:"timeout"`
	Overlap     time.Duration `mapstructure:"overlap"`
	// TrackDeletions records blocks deleted in SFMC as tombstones.
	TrackDeletions bool `mapstructure:"track_deletions"`
	// TrackDeletionsMaxShare is the largest share of the known blocks one id
	// listing may lack before its deletions are distrusted (not recorded
	// unless `run --accept-deletions`).
	TrackDeletionsMaxShare float64   `mapstructure:"track_deletions_max_share"`
	Lock                   Lock      `mapstructure:"lock"`
	Notify                 Notify    `mapstructure:"notify"`
	Retention              Retention `mapstructure:"retention"`
	// AccountIDs, when set, backs up several business units one after
	// another, each into <dest>/mid-<MID> with its own watermark.
	AccountIDs []string `mapstructure:"account_ids"`
	// BUConcurrency is how many of AccountIDs are backed up at once; they
	// share one SFMC request budget (Concurrency).
	BUConcurrency int `mapstructure:"bu_concurrency"`
	// Shard ("I/N") backs up only the units of AccountIDs that hash to
	// shard I of N (see pkg/shard). ShardCount is N when I comes from
	// Kubernetes' JOB_COMPLETION_INDEX instead.
	Shard      string  `mapstructure:"shard"`
	ShardCount int     `mapstructure:"shard_count"`
	Metrics    Metrics `mapstructure:"metrics"`
	Log        Log     `mapstructure:"log"`
	// Each backend's options; the destination URL's bucket, prefix and query
	// parameters are applied over them when the store is opened.
	S3     s3.Config     `mapstructure:"s3"`
	GCS    gcs.Config    `mapstructure:"gcs"`
	Azblob azblob.Config `mapstructure:"azblob"`

	// Warnings are problems Load fixed or tolerated (a byte-order mark in
	// the secret file, its permissions); the caller logs them.
	Warnings []string `mapstructure:"-"`
}

// Secret is a string that never prints its value.
type Secret string

// String redacts the value.
func (s Secret) String() string {
	if s == "" {
		return "(unset)"
	}
	return "(set)"
}

// GoString redacts the value in %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText redacts the value when a Config is encoded.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Value returns the secret itself, for the one place that needs it.
func (s Secret) Value() string { return string(s) }

// Defaults returns every key with its default value. Registering all keys is
// also what lets viper read keys that are set only in the environment.
func Defaults() map[string]any {
	return map[string]any{
		"sfmc.auth_url":             "",
		"sfmc.client_id":            "",
		"sfmc.client_secret":        "",
		"sfmc.client_secret_file":   "",
		"sfmc.account_id":           "",
		"sfmc.allow_any_endpoint":   false,
		"sfmc.page_size":            500,
		"sfmc.list_concurrency":     4,
		"sfmc.max_attempts":         6,
		"sfmc.request_timeout":      "60s",
		"sfmc.retry_base_delay":     "500ms",
		"sfmc.retry_max_delay":      "30s",
		"sfmc.max_retry_after":      "60s",
		"sfmc.max_response_bytes":   int64(sfmc.DefaultMaxResponseBytes),
		"sfmc.max_item_bytes":       int64(sfmc.DefaultMaxItemBytes),
		"dest":                      "./backups",
		"types":                     []string{"default"},
		"concurrency":               8,
		"timeout":                   "6h",
		"overlap":                   "1h",
		"track_deletions":           true,
		"track_deletions_max_share": 0.5,
		"lock.stale_after":          "30m",
		"account_ids":               []string{},
		"bu_concurrency":            1,
		"shard":                     "",
		"shard_count":               0,
		"metrics.textfile":          "",
		"metrics.pushgateway_url":   "",
		"notify.ping_url":           "",
		"retention.keep_last":       0,
		"retention.keep_hourly":     0,
		"retention.keep_daily":      0,
		"retention.keep_weekly":     0,
		"retention.keep_monthly":    0,
		"retention.keep_yearly":     0,
		"retention.keep_within":     "",
		"retention.auto":            false,
		"notify.slack_webhook_url":  "",
		"notify.webhook_url":        "",
		"notify.on":                 "failure",
		"notify.timeout":            "30s",
		"notify.smtp.host":          "",
		"notify.smtp.port":          0,
		"notify.smtp.username":      "",
		"notify.smtp.password":      "",
		"notify.smtp.from":          "",
		"notify.smtp.to":            []string{},
		"notify.smtp.starttls":      true,
		"log.level":                 "info",
		"log.format":                "auto",
		"s3.region":                 "",
		"s3.endpoint":               "",
		"s3.path_style":             false,
		"s3.sse":                    "",
		"s3.kms_key_id":             "",
		"s3.storage_class":          "",
		"s3.checksum_when_required": false,
		"s3.ca_file":                "",
		"gcs.storage_class":         "",
		"gcs.kms_key_name":          "",
		"azblob.account_name":       "",
		"azblob.service_url":        "",
		"azblob.access_tier":        "",
	}
}

// conventional environment variables, besides BACKUP_CREATOR_<KEY>.
var extraEnv = map[string]string{
	"sfmc.auth_url":           "SFMC_AUTH_URL",
	"sfmc.client_id":          "SFMC_CLIENT_ID",
	"sfmc.client_secret":      "SFMC_CLIENT_SECRET",
	"sfmc.client_secret_file": "SFMC_CLIENT_SECRET_FILE",
	"sfmc.account_id":         "SFMC_ACCOUNT_ID",
}

// SecretKeys are the keys whose values are never shown.
var SecretKeys = map[string]bool{
	"sfmc.client_secret": true, "notify.slack_webhook_url": true, "notify.webhook_url": true,
	"notify.smtp.password": true, "notify.ping_url": true, "metrics.pushgateway_url": true,
}

// EnvVars returns the environment variables that set key, in the order viper
// consults them.
func EnvVars(key string) []string {
	own := EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
	if e, ok := extraEnv[key]; ok {
		return []string{e, own}
	}
	return []string{own}
}

// NewViper returns a viper with every key registered and the environment bound.
func NewViper() *viper.Viper {
	v := viper.New()
	for k, d := range Defaults() {
		v.SetDefault(k, d)
		_ = v.BindEnv(append([]string{k}, EnvVars(k)...)...)
	}
	return v
}

// Keys returns every configuration key, sorted.
func Keys() []string {
	var ks []string
	for k := range Defaults() {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Load decodes v into a Config and resolves the secret file. It does not
// validate; a value that cannot be read as its key's type (a duration, a
// number, a boolean) gives a *TypeError naming it.
func Load(v *viper.Viper) (*Config, error) {
	if p := typeProblems(v); len(p) > 0 {
		return nil, &TypeError{Problems: p}
	}
	var c Config
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           &c,
		WeaklyTypedInput: true,
		DecodeHook:       decodeHooks(),
	})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(v.AllSettings()); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	var list []string
	for _, t := range c.Types {
		for _, p := range strings.Split(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
	}
	c.Types = list
	c.AccountIDs = splitList(c.AccountIDs)
	c.Notify.SMTP.To = splitList(c.Notify.SMTP.To)
	if c.SFMC.ClientSecretFile != "" {
		if c.SFMC.ClientSecret != "" {
			return nil, errors.New("sfmc.client_secret and sfmc.client_secret_file (SFMC_CLIENT_SECRET / SFMC_CLIENT_SECRET_FILE) are both set: set only one")
		}
		sec, warns, err := readSecretFile(c.SFMC.ClientSecretFile)
		if err != nil {
			return nil, err
		}
		c.SFMC.ClientSecret = sec
		c.Warnings = append(c.Warnings, warns...)
	}
	return &c, nil
}

// MaxSecretFileSize bounds what is read of sfmc.client_secret_file: SFMC
// client secrets are a few dozen characters.
const MaxSecretFileSize = 64 << 10

// readSecretFile reads the client secret from name, at most
// MaxSecretFileSize bytes. One trailing "\n" (what echo, Docker and
// Kubernetes secrets leave) is removed silently; a UTF-8 byte-order mark, a
// Windows "\r\n" and other whitespace at either end are removed with a
// warning; a file with several lines or control characters inside is
// refused. A file readable by others, or by its group while the job's user
// owns it, gets a warning.
func readSecretFile(name string) (Secret, []string, error) {
	const key = "sfmc.client_secret_file"
	f, err := os.Open(name)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", key, err)
	}
	defer f.Close()
	var warns []string
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		// Readable by others is always a warning. Readable by the group
		// only when the job's user owns the file: a secret owned by root
		// and shared with the job's group (Kubernetes: fsGroup with
		// defaultMode 0440) needs that bit.
		perm := st.Mode().Perm()
		if perm&0o004 != 0 || perm&0o040 != 0 && ownedBySelf(st) {
			warns = append(warns, fmt.Sprintf("%s %s is readable by group or others (mode %04o): restrict it to the job's user (chmod 600)",
				key, name, perm))
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFileSize+1))
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", key, name, err)
	}
	if len(b) > MaxSecretFileSize {
		return "", nil, fmt.Errorf("%s %s is larger than %d KiB: that is not a secret file (it should hold only the client secret)", key, name, MaxSecretFileSize>>10)
	}
	s := string(b)
	if rest, ok := strings.CutPrefix(s, "\uFEFF"); ok {
		s = rest
		warns = append(warns, fmt.Sprintf("%s %s starts with a UTF-8 byte-order mark: removed (save the file without BOM)", key, name))
	}
	s = strings.TrimSuffix(s, "\n")
	if rest, ok := strings.CutSuffix(s, "\r"); ok {
		s = rest
		warns = append(warns, fmt.Sprintf("%s %s ends with a Windows line ending (\\r\\n): removed", key, name))
	}
	if t := strings.TrimSpace(s); t != s {
		warns = append(warns, fmt.Sprintf("%s %s has blank lines or spaces before or after the secret: removed (the secret itself never contains whitespace)", key, name))
		s = t
	}
	if s == "" {
		return "", nil, fmt.Errorf("%s %s is empty", key, name)
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", nil, fmt.Errorf("%s %s has several lines: it should hold only the client secret", key, name)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' || r == '\uFEFF' {
			return "", nil, fmt.Errorf("%s %s contains control characters or invalid UTF-8: it should hold only the client secret", key, name)
		}
	}
	return Secret(s), warns, nil
}

func splitList(in []string) []string {
	var out []string
	for _, t := range in {
		for _, p := range strings.Split(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// Problems lists every problem with c at once (empty: valid). needSFMC asks
// for the SFMC credentials too (commands that talk to SFMC).
func (c *Config) Problems(needSFMC bool) []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if needSFMC {
		if c.SFMC.AuthURL == "" {
			add("sfmc.auth_url is not set (SFMC_AUTH_URL): the Authentication Base URI of your Installed Package, e.g. https://<subdomain>.auth.marketingcloudapis.com/")
		} else if err := sfmc.ValidateAuthURL(c.SFMC.AuthURL, c.SFMC.AllowAnyEndpoint); err != nil {
			add("sfmc.auth_url: %v", err)
		}
		if c.SFMC.ClientID == "" {
			add("sfmc.client_id is not set (SFMC_CLIENT_ID)")
		}
		if c.SFMC.ClientSecret == "" {
			add("sfmc.client_secret is not set (SFMC_CLIENT_SECRET or SFMC_CLIENT_SECRET_FILE)")
		}
	}
	if c.SFMC.AccountID != "" && strings.Trim(c.SFMC.AccountID, "0123456789") != "" {
		add("sfmc.account_id %q is not a number (the MID of a business unit)", c.SFMC.AccountID)
	}
	if c.SFMC.PageSize < 1 || c.SFMC.PageSize > 500 {
		add("sfmc.page_size %d is out of range (1-500)", c.SFMC.PageSize)
	}
	if c.SFMC.ListConcurrency < 1 || c.SFMC.ListConcurrency > 16 {
		add("sfmc.list_concurrency %d is out of range (1-16; SFMC blocks more than about 5 concurrent requests)", c.SFMC.ListConcurrency)
	}
	if c.SFMC.MaxAttempts < 1 || c.SFMC.MaxAttempts > 20 {
		add("sfmc.max_attempts %d is out of range (1-20)", c.SFMC.MaxAttempts)
	}
	if c.SFMC.RequestTimeout <= 0 {
		add("sfmc.request_timeout must be positive")
	}
	if c.SFMC.RetryBaseDelay <= 0 || c.SFMC.RetryMaxDelay < c.SFMC.RetryBaseDelay {
		add("sfmc.retry_base_delay must be positive and at most sfmc.retry_max_delay")
	}
	if c.SFMC.MaxRetryAfter <= 0 {
		add("sfmc.max_retry_after must be positive")
	}
	if c.SFMC.MaxItemBytes < 64<<10 {
		add("sfmc.max_item_bytes %d is too small (at least 65536)", c.SFMC.MaxItemBytes)
	}
	if c.SFMC.MaxResponseBytes < c.SFMC.MaxItemBytes {
		add("sfmc.max_response_bytes %d is smaller than sfmc.max_item_bytes %d", c.SFMC.MaxResponseBytes, c.SFMC.MaxItemBytes)
	}
	if c.Dest == "" {
		add("dest is empty: a directory or a URL (s3://, gs://, azblob://)")
	} else if _, err := c.Backend(); err != nil {
		add("%v", err)
	}
	for _, mid := range c.AccountIDs {
		if strings.Trim(mid, "0123456789") != "" {
			add("account_ids: %q is not a number (the MID of a business unit)", mid)
		}
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		add("concurrency %d is out of range (1-256)", c.Concurrency)
	}
	if c.BUConcurrency < 1 || c.BUConcurrency > 64 {
		add("bu_concurrency %d is out of range (1-64)", c.BUConcurrency)
	}
	if c.Shard != "" {
		if _, err := shard.Parse(c.Shard); err != nil {
			add("%v (--shard, BACKUP_CREATOR_SHARD)", err)
		}
	}
	if c.ShardCount < 0 || c.ShardCount > shard.MaxCount {
		add("shard_count %d is out of range (1-%d, or 0 for none)", c.ShardCount, shard.MaxCount)
	}
	if u := c.Metrics.PushgatewayURL.Value(); u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			add("metrics.pushgateway_url is not an http(s) URL (e.g. http://pushgateway:9091)")
		}
	}
	if c.Timeout < 0 {
		add("timeout must not be negative (0 means no limit)")
	}
	if !(c.TrackDeletionsMaxShare > 0 && c.TrackDeletionsMaxShare <= 1) {
		add("track_deletions_max_share %v is out of range: a share of the known blocks above 0 and at most 1 (0.5 = 50 %%; 1 never distrusts a listing)", c.TrackDeletionsMaxShare)
	}
	if c.Overlap < 0 {
		add("overlap must not be negative")
	}
	if c.Lock.StaleAfter < time.Minute {
		add("lock.stale_after %s is too short (at least 1m)", c.Lock.StaleAfter)
	}
	switch strings.ToLower(c.Log.Level) {
	case "trace", "debug", "info", "warn", "error":
	default:
		add("log.level %q: use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		add("log.format %q: use json, console or auto", c.Log.Format)
	}
	return p
}

// Dest is a parsed destination.
type Dest struct {
	// Scheme is "file", "s3", "gs" or "azblob".
	Scheme string
	// Path is the local directory (Scheme "file").
	Path string
	// URL is the parsed URL (cloud schemes).
	URL *url.URL
}

// ParseDest parses a --dest value: a plain path or file:// URL (local disk),
// s3://bucket/prefix, gs://bucket/prefix or azblob://container/prefix.
func ParseDest(s string) (Dest, error) {
	if !strings.Contains(s, "://") {
		return Dest{Scheme: "file", Path: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") || redact.Shapes(s) != s {
			// Not quoted: url.Parse's message repeats parts of the
			// credentials, and an unparsable URL cannot be redacted.
			return Dest{}, errors.New("dest is not a valid URL, and it seems to contain credentials (an @ or a secret parameter): never put secrets in the destination; use the cloud's credential chain")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Dest{}, fmt.Errorf("dest %q is not a valid URL: %w", s, err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			p = u.Host + u.Path
		}
		if p == "" {
			return Dest{}, fmt.Errorf("dest %q has no path", redact.Shapes(s))
		}
		return Dest{Scheme: "file", Path: p}, nil
	case "s3", "gs", "azblob":
		if u.Host == "" {
			return Dest{}, fmt.Errorf("dest %q names no bucket: use %s://BUCKET/prefix", redact.Shapes(s), u.Scheme)
		}
		if u.User != nil {
			return Dest{}, fmt.Errorf("dest %q contains credentials: never put secrets in the destination; use the cloud's credential chain", redactURL(u))
		}
		return Dest{Scheme: u.Scheme, URL: u}, nil
	default:
		return Dest{}, fmt.Errorf("dest %q has unknown scheme %q: use a path, file://, s3://, gs:// or azblob://", redact.Shapes(s), u.Scheme)
	}
}

// Backend is the destination resolved into its backend's configuration:
// that backend's config keys with the destination URL's bucket, prefix and
// query parameters applied over them.
type Backend struct {
	// Scheme is "file", "s3", "gs" or "azblob"; the field of that name is set.
	Scheme string
	Local  local.Config
	S3     s3.Config
	GCS    gcs.Config
	Azblob azblob.Config
}

// Backend parses c.Dest and checks the backend's configuration without any
// network or file I/O: everything a store refuses before it contacts the
// service (unknown URL parameters, credentials in the URL, bucket names,
// encryption settings, endpoints). Problems reports its error, and the CLI
// opens stores only through it, so that config validate refuses what a run
// refuses.
func (c *Config) Backend() (Backend, error) {
	d, err := ParseDest(c.Dest)
	if err != nil {
		return Backend{}, err
	}
	b := Backend{Scheme: d.Scheme}
	switch d.Scheme {
	case "file":
		b.Local = local.Config{Root: d.Path}
	case "s3":
		if b.S3, err = s3.ParseURL(d.URL, c.S3); err == nil {
			err = b.S3.Validate()
		}
	case "gs":
		if b.GCS, err = gcs.ParseURL(d.URL, c.GCS); err == nil {
			err = b.GCS.Validate()
		}
	case "azblob":
		if b.Azblob, err = azblob.ParseURL(d.URL, c.Azblob); err == nil {
			err = b.Azblob.Validate()
		}
	}
	if err != nil {
		return Backend{}, fmt.Errorf("dest: %w", err)
	}
	return b, nil
}

func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return redact.Shapes(c.String())
}

// Redacted returns the configuration as key → value strings, secrets shown
// only as "(set)" or "(unset)".
func (c *Config) Redacted(v *viper.Viper) map[string]string {
	out := map[string]string{}
	for _, k := range Keys() {
		if k == "sfmc.client_secret" {
			out[k] = c.SFMC.ClientSecret.String()
			continue
		}
		if SecretKeys[k] {
			out[k] = Secret(fmt.Sprint(v.Get(k))).String()
			continue
		}
		val := v.Get(k)
		if rv := reflect.ValueOf(val); rv.Kind() == reflect.Slice {
			parts := make([]string, rv.Len())
			for i := range parts {
				parts[i] = fmt.Sprint(rv.Index(i).Interface())
			}
			out[k] = strings.Join(parts, ",")
			continue
		}
		out[k] = fmt.Sprint(val)
	}
	return out
}
