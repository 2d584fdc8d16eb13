package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// ProfileSummary is hookflow's CPU profile over the (b) rounds of one Temporal server,
// merged, with its CPU split by package area.
type ProfileSummary struct {
	// Path is where the merged profile was written (go tool pprof reads it).
	Path string `json:"path,omitempty"`
	// Rounds is how many (b) rounds it covers, Seconds how long each was profiled for.
	Rounds  int     `json:"rounds"`
	Seconds []int   `json:"seconds"`
	Samples float64 `json:"sample_seconds"`
	// Areas are hookflow's CPU by package area, largest first.
	Areas []AreaCost `json:"areas"`
	// Note says why there is no profile, when there is none.
	Note string `json:"note,omitempty"`
}

// AreaCost is the CPU one package area of hookflow took in the profile.
type AreaCost struct {
	Area string `json:"area"`
	// Flat is the share of samples whose innermost frame of a named area is in this one:
	// the areas' flat shares add up to 1, so each is a cost no other row also counts.
	Flat float64 `json:"flat_share"`
	// Cum is the share of samples with this area anywhere on the stack.
	Cum float64 `json:"cum_share"`
	// MSPerDelivery is Flat applied to hookflow's measured CPU per delivery (the median
	// round's).
	MSPerDelivery float64 `json:"ms_per_delivery"`
	// Top is the area's function with the most flat samples, and its share of all.
	Top      string  `json:"top_function"`
	TopShare float64 `json:"top_function_share"`
}

// areaRules name the package areas of hookflow's process, by package path prefix. A
// sample is charged to the innermost frame on its stack that one of them names; frames of
// the standard library and of other modules (JSON encoding, allocation, syscalls, GC
// assists) are charged to whoever called them, so that the costs add up.
var areaRules = []struct {
	area     string
	prefixes []string
}{
	{"SQL driver (lib/pq, database/sql, sqlx)", []string{"github.com/lib/pq", "database/sql", "github.com/jmoiron/sqlx"}},
	{"Temporal SDK worker and client (with gRPC, protobuf)", []string{"go.temporal.io", "google.golang.org/grpc", "google.golang.org/protobuf",
		"github.com/gogo/protobuf", "github.com/nexus-rpc", "golang.org/x/net/http2", "github.com/grpc-ecosystem"}},
	{"signing and secrets (signing, keyring)", []string{"github.com/hookflow/hookflow/signing", "github.com/hookflow/hookflow/keyring",
		"github.com/standard-webhooks"}},
	{"outbound HTTP (the attempts' client)", []string{"github.com/hookflow/hookflow/outbound", "github.com/hookflow/hookflow/egress",
		"net/http.(*Transport)", "net/http.(*persistConn)", "net/http.(*Client)", "net/http.persistConnWriter"}},
	{"API (HTTP server, ingest handlers)", []string{"github.com/hookflow/hookflow/api", "github.com/hookflow/hookflow/web",
		"github.com/gin-gonic", "github.com/gin-contrib", "github.com/go-playground", "github.com/getkin/kin-openapi",
		"net/http.(*conn)", "net/http.(*response)", "net/http.serverHandler", "net/http.(*ServeMux)", "net/http.HandlerFunc", "net/http.(*Server)"}},
	{"dispatcher", []string{"github.com/hookflow/hookflow/dispatch"}},
	{"delivery activities (send, record)", []string{"github.com/hookflow/hookflow/activities"}},
	{"delivery workflow code", []string{"github.com/hookflow/hookflow/workflows"}},
	{"store (queries, recording)", []string{"github.com/hookflow/hookflow/store"}},
	{"metrics", []string{"github.com/hookflow/hookflow/metrics", "github.com/prometheus", "github.com/uber-go/tally"}},
	{"hookflow, other packages", []string{"github.com/hookflow/hookflow"}},
}

// runtimeArea is charged with the samples no named area appears in: the garbage
// collector's own workers, the scheduler, idle polling of the network.
const runtimeArea = "Go runtime (GC workers, scheduler, netpoll)"

// frameArea is the area a function belongs to, or "".
func frameArea(function string) string {
	// Type parameters may hold package paths of their own: only the function's counts.
	name, _, _ := strings.Cut(function, "[")
	for _, rule := range areaRules {
		for _, p := range rule.prefixes {
			if name == p || strings.HasPrefix(name, p+".") || strings.HasPrefix(name, p+"/") {
				return rule.area
			}
		}
	}
	return ""
}

// sampleFrames are a sample's function names, innermost first.
func sampleFrames(s *profile.Sample) []string {
	var names []string
	for _, loc := range s.Location {
		// A location's lines are innermost first too (the inlined calls, then their caller).
		for _, line := range loc.Line {
			if line.Function != nil {
				names = append(names, line.Function.Name)
			}
		}
	}
	return names
}

// profileAreas splits a CPU profile by area.
func profileAreas(p *profile.Profile) (areas []AreaCost, sampleSeconds float64) {
	// The CPU value is the last sample type (samples, then cpu nanoseconds).
	vi := len(p.SampleType) - 1
	var total float64
	flat, cum := map[string]float64{}, map[string]float64{}
	topFunc := map[string]map[string]float64{}
	for _, s := range p.Sample {
		v := float64(s.Value[vi])
		total += v
		frames := sampleFrames(s)
		area, owner := "", ""
		seen := map[string]bool{}
		for _, f := range frames {
			a := frameArea(f)
			if a == "" {
				continue
			}
			if area == "" {
				area, owner = a, f
			}
			if !seen[a] {
				seen[a] = true
				cum[a] += v
			}
		}
		if area == "" {
			area = runtimeArea
			if len(frames) > 0 {
				owner = frames[0]
			}
			cum[area] += v
		}
		flat[area] += v
		if topFunc[area] == nil {
			topFunc[area] = map[string]float64{}
		}
		topFunc[area][owner] += v
	}
	if total == 0 {
		return nil, 0
	}
	for area, f := range flat {
		ac := AreaCost{Area: area, Flat: f / total, Cum: cum[area] / total}
		for fn, v := range topFunc[area] {
			if v > ac.TopShare*total || (v == ac.TopShare*total && fn < ac.Top) {
				ac.Top, ac.TopShare = fn, v/total
			}
		}
		areas = append(areas, ac)
	}
	for area, c := range cum {
		if _, ok := flat[area]; !ok {
			areas = append(areas, AreaCost{Area: area, Cum: c / total})
		}
	}
	slices.SortFunc(areas, func(a, b AreaCost) int {
		return cmp.Or(cmp.Compare(b.Flat, a.Flat), cmp.Compare(b.Cum, a.Cum), strings.Compare(a.Area, b.Area))
	})
	if p.SampleType[vi].Unit == "nanoseconds" {
		sampleSeconds = total / 1e9
	}
	return areas, sampleSeconds
}

// profiler collects hookflow's CPU profiles over the (b) rounds of one Temporal server.
type profiler struct {
	path     string
	profiles []*profile.Profile
	seconds  []int
	note     string
}

// start takes a CPU profile of hookflow during (b) when asked for (addr set). A CPU
// profile cannot be stopped early and still be read, so it runs for as long as (b) would
// take at the ceiling's rate (5 to 30 s): most or all of (b), and the harness waits for it
// before the next phase so nothing else is in it.
func (p *profiler) start(ctx context.Context, addr string, seconds float64) <-chan struct{} {
	done := make(chan struct{})
	if p == nil || addr == "" {
		close(done)
		return done
	}
	probe := &http.Client{Timeout: 2 * time.Second}
	resp, err := probe.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		p.note = "skipped: hookflow does not serve pprof on HOOKFLOW_PPROF_ADDR (startPprof is not called from cmd/hookflow)"
		close(done)
		return done
	}
	resp.Body.Close()
	secs := int(math.Max(5, math.Min(30, math.Floor(seconds))))
	go func() {
		defer close(done)
		prof, err := fetchProfile(ctx, addr, secs)
		if err != nil {
			p.note = "failed: " + err.Error()
			return
		}
		p.profiles, p.seconds = append(p.profiles, prof), append(p.seconds, secs)
	}()
	return done
}

func fetchProfile(ctx context.Context, addr string, secs int) (*profile.Profile, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pprof answered %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return profile.ParseData(raw)
}

// finish merges the rounds' profiles, writes the merge and splits it by area, with each
// area's share applied to msPerDelivery (hookflow's CPU per delivery).
func (p *profiler) finish(msPerDelivery float64) (*ProfileSummary, error) {
	if p == nil {
		return nil, nil
	}
	sum := &ProfileSummary{Rounds: len(p.profiles), Seconds: p.seconds, Note: p.note}
	if len(p.profiles) == 0 {
		if sum.Note == "" {
			sum.Note = "no profile was taken"
		}
		return sum, nil
	}
	merged, err := profile.Merge(p.profiles)
	if err != nil {
		return nil, fmt.Errorf("merge the CPU profiles: %w", err)
	}
	sum.Areas, sum.Samples = profileAreas(merged)
	for i := range sum.Areas {
		sum.Areas[i].MSPerDelivery = sum.Areas[i].Flat * msPerDelivery
	}
	if p.path != "" {
		if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := merged.Write(&buf); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p.path, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
		sum.Path = p.path
	}
	return sum, nil
}

// topAreas are the n largest flat costs of a profile, as the report names them.
func (s *ProfileSummary) topAreas(n int) []AreaCost {
	if s == nil {
		return nil
	}
	var top []AreaCost
	for _, a := range s.Areas {
		if a.Flat > 0 && len(top) < n {
			top = append(top, a)
		}
	}
	return top
}

// siblingPath is path with a suffix before its extension: where the profile of another
// Temporal server's rounds goes.
func siblingPath(path, suffix string) string {
	if path == "" {
		return ""
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + suffix + ext
}
