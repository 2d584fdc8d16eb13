package api

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/hookflow/hookflow"
)

// FuzzDecodeBody feeds the request decoder arbitrary bodies: it never panics, refuses with
// one of the client error codes, and what it accepts is JSON that PostgreSQL stores as
// sent: valid UTF-8, no key twice, no number beyond numeric.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"event_type":"a.b","data":{"k":"v"}}`,
		`{"event_type":"a.b","data":{"k":"\ud83d\ude00"}}`,
		`{"event_type":"a.b","data":{"k":"\ud800"}}`,
		"{\"event_type\":\"a.b\",\"data\":{\"k\":\"\xff\"}}",
		`{"event_type":"a.b","data":{"k":1,"k":2}}`,
		`{"event_type":"a.b","data":{"n":1e1000000}}`,
		`{"event_type":"a.b","entity_id":12345678901234567890}`,
		`[1,2]`, `null`, ``, `{"event_type":`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in hookflow.EventInput
		err := decodeBody(body, 1<<20, &in)
		if err != nil {
			switch hookflow.ErrorCode(err) {
			case hookflow.EMALFORMED, hookflow.EINVALID, hookflow.ETOOLARGE:
			default:
				t.Fatalf("decode of %q: %v (code %q)", body, err, hookflow.ErrorCode(err))
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("accepted %q, which is not UTF-8 JSON", body)
		}
		if err := checkJSON(body); err != nil {
			t.Fatalf("accepted %q, which checkJSON refuses: %v", body, err)
		}
	})
}

func TestStorableNumber(t *testing.T) {
	for lit, want := range map[string]bool{
		"0": true, "-0.0e999999999999": true, "1e131071": true, "1e131072": false, "12e131070": true,
		"1e-16383": true, "1e-16384": false, "0.5e-16382": true, "1.5e-16383": false,
		"1e1000000": false, "123.456": true, "1E+5": true, "1e99999999999999999999": false,
	} {
		if got := storableNumber(lit); got != want {
			t.Errorf("storableNumber(%s) = %v, want %v", lit, got, want)
		}
	}
}
