package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/hookflow/hookflow"
)

// PostgreSQL's numeric, which jsonb stores numbers as, holds at most this many digits
// before and after the decimal point.
const (
	maxNumericIntegerDigits  = 131072
	maxNumericFractionDigits = 16383
)

// checkJSON refuses what encoding/json would let through rewritten or ambiguous, before
// anything is decoded: invalid UTF-8 (it would become U+FFFD), a lone surrogate escape
// (PostgreSQL cannot store it), a key given twice at any depth (the endpoint would get a
// body whose meaning differs from what the API and the dashboard show), and a number
// PostgreSQL cannot store. Each names where it is. Other syntax errors are left to the
// decoder, which describes them as it always has.
func checkJSON(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var se *jsontext.SyntacticError
			if !errors.As(err, &se) || !json.Valid(body) {
				// Not one of the four: the decoder says what is wrong.
				return nil
			}
			where := se.JSONPointer
			if errors.Is(se.Err, jsontext.ErrDuplicateName) {
				return invalidAt(where, "is given twice (a key may appear once in an object)")
			}
			return invalidAt(where, "must be valid UTF-8 text without lone surrogate escapes such as \\ud800")
		}
		if tok.Kind() == '0' && !storableNumber(tok.String()) {
			return invalidAt(dec.StackPointer(), "is a number too large or too precise to store")
		}
	}
}

// invalidAt is an EINVALID error for the value at a JSON pointer: the field is its first
// name, the message spells the whole path with dots.
func invalidAt(p jsontext.Pointer, message string) error {
	var names []string
	for name := range p.Tokens() {
		names = append(names, name)
	}
	if len(names) == 0 {
		return hookflow.Errorf(hookflow.EMALFORMED, "request body %s", message)
	}
	if len(names) > 1 {
		message = "at " + strings.Join(names, ".") + ", " + message
	}
	return &hookflow.Error{Code: hookflow.EINVALID, Field: names[0], Message: names[0] + ": " + message}
}

// storableNumber reports whether a JSON number literal fits PostgreSQL's numeric.
func storableNumber(lit string) bool {
	lit = strings.TrimPrefix(lit, "-")
	mantissa, exp, hasExp := strings.Cut(strings.ToLower(lit), "e")
	whole, frac, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return true // zero, whatever its exponent
	}
	point := len(whole) - (len(whole+frac) - len(digits)) // where the point falls in digits
	if hasExp {
		if len(strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")) > 7 {
			return false
		}
		e, err := strconv.Atoi(exp)
		if err != nil {
			return false
		}
		point += e
	}
	return point <= maxNumericIntegerDigits && len(digits)-point <= maxNumericFractionDigits
}
