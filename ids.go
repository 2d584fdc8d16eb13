package hookflow

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
)

// EntityID is an event's entity_id as the API client sent it: a JSON string, or an
// integer (a resource's id in the client's own system often is one). It keeps its type,
// so the payload an endpoint receives and the delivery record show it as it was posted.
type EntityID struct {
	Value string
	// Number is true when it was posted as a JSON integer.
	Number bool
}

// MarshalJSON writes the id as it was posted.
func (id EntityID) MarshalJSON() ([]byte, error) {
	if id.Number {
		return []byte(id.Value), nil
	}
	return json.Marshal(id.Value)
}

// UnmarshalJSON takes a string or an integer; anything else is a type error naming the
// field (see JSONKind).
func (id *EntityID) UnmarshalJSON(raw []byte) error {
	if raw[0] == 'n' { // null: not given
		*id = EntityID{}
		return nil
	}
	if raw[0] == '"' {
		id.Number = false
		return json.Unmarshal(raw, &id.Value)
	}
	if isInteger(raw) {
		id.Value, id.Number = string(raw), true
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonValueKind(raw), Type: reflect.TypeFor[EntityID]()}
}

// JSONKind is what an entity_id may be, for error messages.
func (EntityID) JSONKind() string { return "a string or an integer" }

// IsZero reports whether no entity id was given.
func (id EntityID) IsZero() bool { return id.Value == "" }

// String is the id as text, whichever JSON type it was posted as.
func (id EntityID) String() string { return id.Value }

// CampaignRef names a campaign by its id: the id the API client's own system gives it (a
// string, or a positive integer, which means its decimal string) or the one hookflow
// assigned.
type CampaignRef string

// UnmarshalJSON takes a string or a positive integer.
func (c *CampaignRef) UnmarshalJSON(raw []byte) error {
	if raw[0] == 'n' { // null: not given
		*c = ""
		return nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		*c = CampaignRef(s)
		return nil
	}
	if isInteger(raw) && raw[0] != '-' && !bytes.Equal(raw, []byte("0")) {
		*c = CampaignRef(raw)
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonValueKind(raw), Type: reflect.TypeFor[CampaignRef]()}
}

// JSONKind is what a campaign id may be, for error messages.
func (CampaignRef) JSONKind() string { return "a string or a positive integer" }

// CampaignRefs turns a list of campaign ids into their strings.
func CampaignRefs(refs []CampaignRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = string(r)
	}
	return out
}

// isInteger reports whether raw is a JSON number without fraction or exponent.
func isInteger(raw []byte) bool {
	digits := bytes.TrimPrefix(raw, []byte("-"))
	if len(digits) == 0 {
		return false
	}
	for _, b := range digits {
		if b < '0' || b > '9' {
			return false
		}
	}
	_, err := strconv.ParseFloat(string(raw), 64)
	return err == nil && (len(digits) == 1 || digits[0] != '0')
}

// jsonValueKind names the kind of a JSON value for an error message ("number 7.5").
func jsonValueKind(raw []byte) string {
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number " + Truncate(string(raw), 32)
}
