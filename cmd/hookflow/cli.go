package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookflow/hookflow/client"
)

// The API commands (events, deliveries, subscriptions) call a running hookflow through
// the Go client. Each prints a table for people, or with --json the API's answer as the
// document describes it, for scripts. A usage error exits 2, a refused call 1 with the
// API's message.

// defaultAPIURL is where `hookflow serve` listens by default (HOOKFLOW_HTTP_ADDR).
const defaultAPIURL = "http://127.0.0.1:8080"

// subcommand is one command of a group, such as `deliveries get`.
type subcommand struct {
	name string
	// args names the positional arguments in the usage line; nargs is how many it takes.
	args    string
	nargs   int
	summary string
	// setup declares the command's flags and returns what runs once they are parsed.
	setup func(flags *flag.FlagSet) func(ctx context.Context, s *session, args []string) error
}

// session is what a command runs with: the client and where to print.
type session struct {
	api    *client.Client
	json   bool
	stdout io.Writer
	stderr io.Writer
}

// usageError is a command line that cannot run as written; it exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// runGroup runs `hookflow GROUP SUBCOMMAND [flags] [args]` and returns the exit status.
func runGroup(ctx context.Context, group string, commands []subcommand, args []string, stdout, stderr io.Writer) int {
	groupUsage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: hookflow %s COMMAND [flags]\n\n", group)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range commands {
			fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.summary)
		}
		tw.Flush()
		fmt.Fprintf(w, "\nRun `hookflow %s COMMAND -h` for a command's flags.\n", group)
	}
	if len(args) == 0 {
		groupUsage(stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		groupUsage(stdout)
		return 0
	}
	var cmd *subcommand
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "hookflow: unknown command %q\n\n", group+" "+args[0])
		groupUsage(stderr)
		return 2
	}

	name := group + " " + cmd.name
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	// The environment is read after parsing rather than shown as the flags' defaults, so
	// that -h never prints the key.
	apiURL := flags.String("url", "", "the API's base `URL` (default $HOOKFLOW_URL, else "+defaultAPIURL+")")
	apiKey := flags.String("api-key", "", "an account's API `key` (default $HOOKFLOW_API_KEY)")
	asJSON := flags.Bool("json", false, "print the API's JSON instead of a table")
	action := cmd.setup(flags)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: hookflow %s [flags]\n\n%s\n\nflags:\n", strings.TrimSpace(name+" "+cmd.args), cmd.summary)
		flags.PrintDefaults()
	}
	positional, err := parseInterspersed(flags, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		// The flag package has printed the error and the usage.
		return 2
	}
	if len(positional) != cmd.nargs {
		if cmd.nargs == 0 {
			fmt.Fprintf(stderr, "hookflow: %s takes no arguments, got %q\n", name, positional)
		} else {
			fmt.Fprintf(stderr, "hookflow: %s takes %s, got %d arguments\n", name, cmd.args, len(positional))
		}
		flags.Usage()
		return 2
	}
	if *apiURL == "" {
		*apiURL = envOr("HOOKFLOW_URL", defaultAPIURL)
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("HOOKFLOW_API_KEY")
	}
	if *apiKey == "" {
		fmt.Fprintln(stderr, "hookflow: no API key: pass --api-key or set HOOKFLOW_API_KEY")
		return 2
	}
	api, err := client.New(*apiURL, *apiKey)
	if err != nil {
		fmt.Fprintf(stderr, "hookflow: %v\n", strings.TrimPrefix(err.Error(), "hookflow: "))
		return 2
	}

	err = action(ctx, &session{api: api, json: *asJSON, stdout: stdout, stderr: stderr}, positional)
	var usage usageError
	var apiErr *client.Error
	var urlErr *url.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "hookflow: %s\n", usage.msg)
		return 2
	case errors.As(err, &apiErr):
		fmt.Fprintf(stderr, "hookflow: %s\n", describeAPIError(apiErr))
		return 1
	case errors.As(err, &urlErr):
		fmt.Fprintf(stderr, "hookflow: cannot reach the API at %s: %v\n", *apiURL, urlErr.Err)
		return 1
	}
	fmt.Fprintf(stderr, "hookflow: %v\n", err)
	return 1
}

func describeAPIError(e *client.Error) string {
	if e.Code == "" {
		return fmt.Sprintf("the API answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
}

// parseInterspersed parses flags wherever they stand among the positional arguments
// (`deliveries get 7 --json` as well as `deliveries get --json 7`), which the flag
// package alone stops at; "--" ends the flags.
func parseInterspersed(flags *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := flags.Parse(args); err != nil {
			return nil, err
		}
		rest := flags.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// printJSON writes v indented, as the API's JSON.
func (s *session) printJSON(v any) error {
	enc := json.NewEncoder(s.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows aligned under the header.
func (s *session) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(s.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// fields prints name: value lines, aligned.
func (s *session) fields(pairs ...string) error {
	tw := tabwriter.NewWriter(s.stdout, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
	return tw.Flush()
}

// stringList is a flag that may be repeated or given comma-separated values.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// headerFlags collects repeated NAME=VALUE flags.
type headerFlags map[string]string

func (h headerFlags) String() string {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (h headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("%q is not NAME=VALUE", v)
	}
	h[strings.TrimSpace(name)] = value
	return nil
}

// timestamp prints a time for people, in UTC to the second; "-" for none.
func timestamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
