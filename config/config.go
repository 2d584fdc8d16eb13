// Package config reads hookflow's configuration from the environment and checks it at
// start, so a bad value stops the process with a message that names the variable.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/keyring"
)

// Config is every setting of a hookflow process.
type Config struct {
	DatabaseURL       string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/hookflow?sslmode=disable"`
	TemporalAddress   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	// The Temporal connection's security, named as Temporal's CLI names it: TLS with the
	// system's roots, a client certificate and key (mTLS), the server's CA and name, and
	// an API key (Temporal Cloud).
	TemporalTLS           bool   `env:"TEMPORAL_TLS"`
	TemporalTLSCert       string `env:"TEMPORAL_TLS_CERT"`
	TemporalTLSKey        string `env:"TEMPORAL_TLS_KEY"`
	TemporalTLSCA         string `env:"TEMPORAL_TLS_CA"`
	TemporalTLSServerName string `env:"TEMPORAL_TLS_SERVER_NAME"`
	TemporalAPIKey        string `env:"TEMPORAL_API_KEY"`
	// TemporalUIURL is where the dashboard links a delivery's workflow.
	TemporalUIURL string `env:"HOOKFLOW_TEMPORAL_UI_URL" envDefault:"http://127.0.0.1:8233"`
	HTTPAddr      string `env:"HOOKFLOW_HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	AdminKey      string `env:"HOOKFLOW_ADMIN_KEY"`

	RetryUnit               time.Duration   `env:"HOOKFLOW_RETRY_UNIT" envDefault:"20m"`
	FulfilmentRetrySchedule []time.Duration `env:"HOOKFLOW_FULFILMENT_RETRY_SCHEDULE" envDefault:"15m,1h,2h,4h,4h,6h,6h" envSeparator:","`
	FulfilmentCheckInterval time.Duration   `env:"HOOKFLOW_FULFILMENT_CHECK_INTERVAL" envDefault:"1h"`
	AllowPrivateNetworks    bool            `env:"HOOKFLOW_ALLOW_PRIVATE_NETWORKS" envDefault:"false"`
	DispatchSweepInterval   time.Duration   `env:"HOOKFLOW_DISPATCH_SWEEP_INTERVAL" envDefault:"5s"`
	ShutdownTimeout         time.Duration   `env:"HOOKFLOW_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	LogLevel                string          `env:"HOOKFLOW_LOG_LEVEL" envDefault:"info"`
	IngestRatePerSecond     float64         `env:"HOOKFLOW_INGEST_RATE_PER_SECOND" envDefault:"1000"`
	// EndpointConcurrency is how many requests one worker sends to one endpoint at once;
	// more wait for a slot without holding the worker or spending an attempt.
	EndpointConcurrency int `env:"HOOKFLOW_ENDPOINT_CONCURRENCY" envDefault:"10"`
	// AttemptHold is how long an attempt may keep its workflow task before it is handed
	// off to an activity (package outbound).
	AttemptHold time.Duration `env:"HOOKFLOW_ATTEMPT_HOLD" envDefault:"250ms"`
	// ThrottleBase and ThrottleMax bound how long throttling answers (429, 502, 503, 504)
	// hold a subscription when they give no Retry-After: the base, doubling per answer in
	// a row, up to the max.
	ThrottleBase time.Duration `env:"HOOKFLOW_THROTTLE_BASE" envDefault:"1s"`
	ThrottleMax  time.Duration `env:"HOOKFLOW_THROTTLE_MAX" envDefault:"5m"`
	// PauseAfter pauses a subscription whose attempts have all failed this long.
	PauseAfter time.Duration `env:"HOOKFLOW_PAUSE_AFTER" envDefault:"120h"`
	// Retention bounds how long events, deliveries and attempts are kept; a Temporal
	// Schedule deletes what is older every RetentionInterval.
	Retention         time.Duration `env:"HOOKFLOW_RETENTION" envDefault:"720h"`
	RetentionInterval time.Duration `env:"HOOKFLOW_RETENTION_INTERVAL" envDefault:"1h"`
	// StickyCacheSize bounds how many workflows a worker keeps in memory between tasks.
	StickyCacheSize int `env:"HOOKFLOW_STICKY_CACHE_SIZE" envDefault:"2000"`
	// SecretsKey holds the keys that encrypt signing secrets at rest: comma-separated,
	// base64, 32 bytes each, the one that encrypts first (the others still decrypt, so
	// the key can rotate). Empty stores secrets unencrypted.
	SecretsKey string `env:"HOOKFLOW_SECRETS_KEY"`
	// PprofAddr, when set, serves Go's profiler there (for the benchmark and debugging;
	// keep it on loopback).
	PprofAddr string `env:"HOOKFLOW_PPROF_ADDR"`
	// PublicURL is where browsers reach hookflow, which the links it hands out start with;
	// empty takes the scheme and host of each request (or of its proxy's
	// X-Forwarded-Proto and X-Forwarded-Host).
	PublicURL string `env:"HOOKFLOW_PUBLIC_URL"`
	// PortalLinkTTL is how long a portal link may wait to be opened; PortalSessionTTL is
	// how long the dashboard session it opens lasts.
	PortalLinkTTL    time.Duration `env:"HOOKFLOW_PORTAL_LINK_TTL" envDefault:"10m"`
	PortalSessionTTL time.Duration `env:"HOOKFLOW_PORTAL_SESSION_TTL" envDefault:"1h"`
	// PortalFrameAncestors are the origins whose pages may embed the portal in a frame;
	// without any, no site may.
	PortalFrameAncestors []string `env:"HOOKFLOW_PORTAL_FRAME_ANCESTORS" envSeparator:","`
}

// FulfilmentRetries is the number of waits in the fulfilment retry schedule.
const FulfilmentRetries = 7

// Load reads the environment and validates it.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return Config{}, describeParseError(err)
	}
	return c, c.Validate()
}

// describeParseError names the environment variables whose values did not parse (the
// library names the Go fields).
func describeParseError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
				errs = append(errs, fmt.Errorf("%s: cannot parse %q as %s", f.Tag.Get("env"), os.Getenv(f.Tag.Get("env")), kindName(pe.Type)))
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func kindName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[time.Duration]():
		return "a duration (like 150ms or 20m)"
	case reflect.TypeFor[[]time.Duration]():
		return "a comma-separated list of durations"
	case reflect.TypeFor[bool]():
		return "true or false"
	case reflect.TypeFor[float64]():
		return "a number"
	}
	return t.String()
}

// Validate checks every value and names the variable of the first bad one.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	// The URL holds a password: it is never repeated in a message.
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		bad("DATABASE_URL", "must be a postgres:// URL with a host")
	}
	if !validHostPort(c.TemporalAddress) {
		bad("TEMPORAL_ADDRESS", "must be host:port with a port from 1 to 65535, got %q", c.TemporalAddress)
	}
	if !validNamespace(c.TemporalNamespace) {
		bad("TEMPORAL_NAMESPACE", "must be letters, digits, '.', '_' or '-', got %q", c.TemporalNamespace)
	}
	if (c.TemporalTLSCert == "") != (c.TemporalTLSKey == "") {
		bad("TEMPORAL_TLS_CERT", "and TEMPORAL_TLS_KEY go together: set both (the client certificate and its key) or neither")
	}
	for name, path := range map[string]string{"TEMPORAL_TLS_CERT": c.TemporalTLSCert, "TEMPORAL_TLS_KEY": c.TemporalTLSKey, "TEMPORAL_TLS_CA": c.TemporalTLSCA} {
		if path == "" {
			continue
		}
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			bad(name, "must name a readable file, got %q", path)
		}
	}
	if strings.ContainsAny(c.TemporalAPIKey, " \t\r\n") {
		bad("TEMPORAL_API_KEY", "must not contain spaces or line breaks")
	}
	if !validHostPort(c.HTTPAddr) {
		bad("HOOKFLOW_HTTP_ADDR", "must be host:port with a port from 1 to 65535, got %q", c.HTTPAddr)
	}
	if u, err := url.Parse(c.TemporalUIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("HOOKFLOW_TEMPORAL_UI_URL", "must be an http or https URL, got %q", c.TemporalUIURL)
	}
	if c.AdminKey != "" && (len(c.AdminKey) < 16 || strings.TrimSpace(c.AdminKey) != c.AdminKey || strings.ContainsAny(c.AdminKey, " \t")) {
		bad("HOOKFLOW_ADMIN_KEY", "must be at least 16 characters without spaces")
	}
	if c.RetryUnit <= 0 {
		bad("HOOKFLOW_RETRY_UNIT", "must be a positive duration such as 20m")
	}
	if len(c.FulfilmentRetrySchedule) != FulfilmentRetries {
		bad("HOOKFLOW_FULFILMENT_RETRY_SCHEDULE", "must list exactly %d durations, got %d", FulfilmentRetries, len(c.FulfilmentRetrySchedule))
	}
	for _, d := range c.FulfilmentRetrySchedule {
		if d <= 0 {
			bad("HOOKFLOW_FULFILMENT_RETRY_SCHEDULE", "every wait must be a positive duration")
			break
		}
	}
	// A Temporal Schedule fires at most once a second, at whole seconds.
	if c.FulfilmentCheckInterval < time.Second || c.FulfilmentCheckInterval%time.Second != 0 {
		bad("HOOKFLOW_FULFILMENT_CHECK_INTERVAL", "must be a whole number of seconds, at least 1s, such as 1h")
	}
	if c.DispatchSweepInterval < minSweepInterval {
		bad("HOOKFLOW_DISPATCH_SWEEP_INTERVAL", "must be at least %s", minSweepInterval)
	}
	if c.ShutdownTimeout <= 0 {
		bad("HOOKFLOW_SHUTDOWN_TIMEOUT", "must be a positive duration")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("HOOKFLOW_LOG_LEVEL", "must be debug, info, warn or error")
	}
	if c.PprofAddr != "" && !validHostPort(c.PprofAddr) {
		bad("HOOKFLOW_PPROF_ADDR", "must be host:port with a port from 1 to 65535, got %q", c.PprofAddr)
	}
	if c.IngestRatePerSecond < 0 || math.IsNaN(c.IngestRatePerSecond) || math.IsInf(c.IngestRatePerSecond, 0) {
		bad("HOOKFLOW_INGEST_RATE_PER_SECOND", "must be a number from 0 (no limit) up")
	}
	if c.EndpointConcurrency < 1 || c.EndpointConcurrency > MaxEndpointConcurrency {
		bad("HOOKFLOW_ENDPOINT_CONCURRENCY", "must be a whole number from 1 to %d", MaxEndpointConcurrency)
	}
	if c.AttemptHold < time.Millisecond || c.AttemptHold > time.Minute {
		bad("HOOKFLOW_ATTEMPT_HOLD", "must be a duration from 1ms to 1m, such as 250ms")
	}
	if c.ThrottleBase <= 0 {
		bad("HOOKFLOW_THROTTLE_BASE", "must be a positive duration such as 1s")
	}
	if c.ThrottleMax < c.ThrottleBase || c.ThrottleMax > 24*time.Hour {
		bad("HOOKFLOW_THROTTLE_MAX", "must be a duration from HOOKFLOW_THROTTLE_BASE to 24h, such as 5m")
	}
	if c.PauseAfter != 0 && c.PauseAfter < time.Second {
		bad("HOOKFLOW_PAUSE_AFTER", "must be 0 (never) or a duration of at least 1s, such as 120h")
	}
	if c.Retention != 0 && c.Retention < time.Second {
		bad("HOOKFLOW_RETENTION", "must be 0 (keep everything) or a duration of at least 1s, such as 720h")
	}
	if c.RetentionInterval < time.Second || c.RetentionInterval%time.Second != 0 {
		bad("HOOKFLOW_RETENTION_INTERVAL", "must be a whole number of seconds, at least 1s, such as 1h")
	}
	if c.StickyCacheSize < 10 || c.StickyCacheSize > 1000000 {
		bad("HOOKFLOW_STICKY_CACHE_SIZE", "must be a number of workflows from 10 to 1000000, such as 2000")
	}
	if c.SecretsKey != "" {
		// The error says which key of the list is wrong, never what it holds.
		if _, err := keyring.Parse(c.SecretsKey); err != nil {
			bad("HOOKFLOW_SECRETS_KEY", "%v", err)
		}
	}
	if c.PublicURL != "" && !validPublicURL(c.PublicURL) {
		bad("HOOKFLOW_PUBLIC_URL", "must be an http or https URL of a host, without a path, such as https://hooks.example.com, got %q", c.PublicURL)
	}
	if c.PortalLinkTTL < time.Second || c.PortalLinkTTL > 24*time.Hour {
		bad("HOOKFLOW_PORTAL_LINK_TTL", "must be a duration from 1s to 24h, such as 10m")
	}
	if c.PortalSessionTTL < time.Minute || c.PortalSessionTTL > 24*time.Hour {
		bad("HOOKFLOW_PORTAL_SESSION_TTL", "must be a duration from 1m to 24h, such as 1h")
	}
	for _, origin := range c.PortalFrameAncestors {
		if frameAncestor(origin) == "" {
			bad("HOOKFLOW_PORTAL_FRAME_ANCESTORS", "must be a comma-separated list of origins such as https://app.example.com or https://*.example.com, got %q", origin)
			break
		}
	}
	return errors.Join(errs...)
}

// FrameAncestors are the origins of HOOKFLOW_PORTAL_FRAME_ANCESTORS as a
// Content-Security-Policy writes them: lower case, without a trailing slash.
func (c Config) FrameAncestors() []string {
	var origins []string
	for _, origin := range c.PortalFrameAncestors {
		if o := frameAncestor(origin); o != "" {
			origins = append(origins, o)
		}
	}
	return origins
}

// frameAncestor is an origin of HOOKFLOW_PORTAL_FRAME_ANCESTORS in the form
// Content-Security-Policy takes, or empty when it is not one. Hosts are checked
// character by character: the value goes into a header, where a ';' or a quote would
// change the policy.
func frameAncestor(raw string) string {
	u, ok := parseOrigin(strings.TrimSpace(raw), true)
	if !ok {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

func validPublicURL(raw string) bool {
	_, ok := parseOrigin(raw, false)
	return ok
}

// parseOrigin accepts scheme://host[:port] with an http or https scheme, optionally
// followed by a lone "/".
func parseOrigin(raw string, wildcard bool) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Opaque != "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") ||
		strings.HasSuffix(u.Host, ":") || !hookflow.ValidOriginHost(u.Hostname(), wildcard) {
		return nil, false
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, false
		}
	}
	return u, true
}

// MaxEndpointConcurrency bounds HOOKFLOW_ENDPOINT_CONCURRENCY: the handed-off attempts a
// worker awaits are bounded too (worker.MaxHandedOffAttempts).
const MaxEndpointConcurrency = 1000

// minSweepInterval keeps the dispatcher's sweep from spinning: below it, sweeps would
// follow each other with no pause.
const minSweepInterval = 10 * time.Millisecond

func validHostPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// validNamespace accepts the names Temporal itself gives namespaces.
func validNamespace(ns string) bool {
	if ns == "" || len(ns) > 255 {
		return false
	}
	return !strings.ContainsFunc(ns, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	})
}

// Keyring is the keyring of HOOKFLOW_SECRETS_KEY, or nil when it is not set.
func (c Config) Keyring() (*keyring.Keyring, error) {
	if c.SecretsKey == "" {
		return nil, nil
	}
	return keyring.Parse(c.SecretsKey)
}
