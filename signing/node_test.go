package signing_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/signing"
)

// The Node script checks v1a with Node's crypto, an implementation of Ed25519 other than
// Go's, and holds the README's Node receiver between these marker lines.
const (
	nodeScript      = "testdata/verify_v1a.mjs"
	snippetStart    = "// --- README snippet: from here ---\n"
	snippetEnd      = "// --- README snippet: to here ---\n"
	readmeReference = "../README.md"
)

type nodeVerifyCase struct {
	PublicKey string            `json:"publicKey"`
	Headers   map[string]string `json:"headers"`
	Body      []byte            `json:"body"`
	NowMillis int64             `json:"now"`
}

type nodeSignCase struct {
	SigningKey string `json:"signingKey"`
	ID         string `json:"id"`
	Timestamp  string `json:"timestamp"`
	Body       []byte `json:"body"`
}

type nodeInput struct {
	Verify []nodeVerifyCase `json:"verify"`
	Sign   []nodeSignCase   `json:"sign"`
}

type nodeOutput struct {
	// A verification answers true or false, or the message of what it threw.
	Verify []any    `json:"verify"`
	Sign   []string `json:"sign"`
}

// runNode runs the Node script on input. Without Node the test fails rather than skips:
// a skipped interoperability check would pass in CI unnoticed.
func runNode(t *testing.T, input nodeInput) nodeOutput {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): the v1a interoperability tests verify with Node's crypto; install Node 18 or later (scripts/ensure-node.sh does)", err)
	}
	encoded, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, nodeScript)
	cmd.Stdin = bytes.NewReader(encoded)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", nodeScript, err, stderr.Bytes())
	}
	var output nodeOutput
	if err := json.Unmarshal(stdout, &output); err != nil {
		t.Fatalf("node %s printed %q: %v", nodeScript, stdout, err)
	}
	if len(output.Verify) != len(input.Verify) || len(output.Sign) != len(input.Sign) {
		t.Fatalf("node answered %d verifications and %d signatures, want %d and %d",
			len(output.Verify), len(output.Sign), len(input.Verify), len(input.Sign))
	}
	return output
}

// wireHeaders are the signing headers as Node's http module hands them to a handler.
func wireHeaders(h http.Header) map[string]string {
	return map[string]string{
		"webhook-id":        h.Get("webhook-id"),
		"webhook-timestamp": h.Get("webhook-timestamp"),
		"webhook-signature": h.Get("webhook-signature"),
	}
}

func TestNodeVerifiesGoSignatures(t *testing.T) {
	signingKey, publicKey := newKeyPair(t)
	_, otherPublic := newKeyPair(t)
	secret := newSecret(t)
	body := []byte("{\"event_type\":\"lead_signup\",\"name\":\"Zoë\"}\n\x00\xff")
	signedAt := time.Unix(1_700_000_000, 0)
	at := signedAt.UnixMilli()
	headers := wireHeaders(signedHeaders(t, "msg_node", signedAt, body, signingKey))
	rotation := wireHeaders(signedHeaders(t, "msg_node", signedAt, body, secret, signingKey))
	withSignature := func(signature string) map[string]string {
		h := wireHeaders(signedHeaders(t, "msg_node", signedAt, body, signingKey))
		h["webhook-signature"] = signature
		return h
	}
	withTimestamp := func(timestamp string) map[string]string {
		h := wireHeaders(signedHeaders(t, "msg_node", signedAt, body, signingKey))
		h["webhook-timestamp"] = timestamp
		return h
	}

	cases := []struct {
		name string
		c    nodeVerifyCase
		want bool
	}{
		{"valid", nodeVerifyCase{publicKey, headers, body, at}, true},
		{"rotation from a secret to a signing key", nodeVerifyCase{publicKey, rotation, body, at}, true},
		{"Svix's vector", nodeVerifyCase{svixPublicKey, map[string]string{
			"webhook-id": vectorMsgID, "webhook-timestamp": strconv.Itoa(vectorUnix), "webhook-signature": vectorSignature + " " + svixSignature,
		}, []byte(vectorPayload), vectorUnix * 1000}, true},
		{"4 minutes later", nodeVerifyCase{publicKey, headers, body, at + 4*60_000}, true},
		{"tampered body", nodeVerifyCase{publicKey, headers, append([]byte("x"), body...), at}, false},
		{"wrong public key", nodeVerifyCase{otherPublic, headers, body, at}, false},
		{"expired", nodeVerifyCase{publicKey, headers, body, at + 6*60_000}, false},
		{"from the future", nodeVerifyCase{publicKey, headers, body, at - 6*60_000}, false},
		{"only v1", nodeVerifyCase{publicKey, wireHeaders(signedHeaders(t, "msg_node", signedAt, body, secret)), body, at}, false},
		{"empty signature", nodeVerifyCase{publicKey, withSignature(""), body, at}, false},
		{"only spaces", nodeVerifyCase{publicKey, withSignature("   "), body, at}, false},
		{"no comma", nodeVerifyCase{publicKey, withSignature("v1a"), body, at}, false},
		{"unknown version", nodeVerifyCase{publicKey, withSignature("v2," + strings.TrimPrefix(headers["webhook-signature"], "v1a,")), body, at}, false},
		{"bad base64", nodeVerifyCase{publicKey, withSignature("v1a,!!!!"), body, at}, false},
		{"huge entry", nodeVerifyCase{publicKey, withSignature("v1a," + strings.Repeat("A", 1<<20)), body, at}, false},
		{"timestamp not a number", nodeVerifyCase{publicKey, withTimestamp("soon"), body, at}, false},
		{"no timestamp", nodeVerifyCase{publicKey, withTimestamp(""), body, at}, false},
	}
	input := nodeInput{}
	for _, tc := range cases {
		input.Verify = append(input.Verify, tc.c)
	}
	output := runNode(t, input)
	for i, tc := range cases {
		if got := output.Verify[i]; got != tc.want {
			t.Errorf("%s: Node says %v, want %v", tc.name, got, tc.want)
		}
		// Go agrees with Node on every case.
		h := http.Header{}
		for name, value := range tc.c.Headers {
			h.Set(name, value)
		}
		err := signing.Verify(h, tc.c.Body, []string{tc.c.PublicKey}, time.UnixMilli(tc.c.NowMillis), tolerance)
		if (err == nil) != tc.want {
			t.Errorf("%s: Go's Verify: %v, want success %v", tc.name, err, tc.want)
		}
	}
}

func TestGoVerifiesNodeSignatures(t *testing.T) {
	signingKey, publicKey := newKeyPair(t)
	body := []byte(`{"signed":"by node"}`)
	signedAt := time.Unix(1_700_000_000, 0)
	output := runNode(t, nodeInput{Sign: []nodeSignCase{
		{svixSigningKey, vectorMsgID, strconv.Itoa(vectorUnix), []byte(vectorPayload)},
		{signingKey, "msg_from_node", strconv.FormatInt(signedAt.Unix(), 10), body},
	}})

	// Ed25519 is deterministic: Node, Go and Svix make the same signature.
	if output.Sign[0] != svixSignature {
		t.Errorf("Node signs Svix's vector as %s, want %s", output.Sign[0], svixSignature)
	}
	goSignature, err := signing.Sign(signingKey, "msg_from_node", signedAt, body)
	if err != nil {
		t.Fatal(err)
	}
	if output.Sign[1] != goSignature {
		t.Errorf("Node's signature %s differs from Go's %s", output.Sign[1], goSignature)
	}

	h := http.Header{}
	h.Set("webhook-id", "msg_from_node")
	h.Set("webhook-timestamp", strconv.FormatInt(signedAt.Unix(), 10))
	h.Set("webhook-signature", output.Sign[1])
	verifier, err := signing.NewVerifier(publicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifier.VerifyAt(h, body, signedAt); err != nil {
		t.Errorf("Go rejects Node's signature: %v", err)
	}
	if err := verifier.VerifyAt(h, []byte(`{"signed":"by someone else"}`), signedAt); !errors.Is(err, signing.ErrNoMatchingSignature) {
		t.Errorf("Go with a tampered body: err = %v, want ErrNoMatchingSignature", err)
	}
	if err := verifier.VerifyAt(h, body, signedAt.Add(tolerance+time.Second)); !errors.Is(err, signing.ErrTimestampTooOld) {
		t.Errorf("Go after the tolerance: err = %v, want ErrTimestampTooOld", err)
	}
}

// TestReadmeNodeReceiverIsTheTestedOne keeps the README's Node receiver the code that the
// tests above run.
func TestReadmeNodeReceiverIsTheTestedOne(t *testing.T) {
	script, err := os.ReadFile(nodeScript)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, found := strings.Cut(string(script), snippetStart)
	snippet, _, foundEnd := strings.Cut(rest, snippetEnd)
	if !found || !foundEnd {
		t.Fatalf("%s lacks the README snippet markers %q and %q", nodeScript, snippetStart, snippetEnd)
	}
	readme, err := os.ReadFile(readmeReference)
	if err != nil {
		t.Fatal(err)
	}
	if block := "```js\n" + snippet + "```\n"; !strings.Contains(string(readme), block) {
		t.Fatalf("README.md should show the Node receiver of %s verbatim, as a js block:\n%s", nodeScript, block)
	}
}
