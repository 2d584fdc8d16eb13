package client_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hookflow/hookflow/client"
)

const document = "../api/openapi.yaml"

// TestGeneratedCodeIsCurrent regenerates the client from the document with the pinned
// oapi-codegen and compares: a change to api/openapi.yaml without `go generate ./client`
// fails here rather than in a user's build.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "openapi.gen.go")
	cmd := exec.Command("go", "tool", "-modfile=../tools/oapi-codegen/go.mod", "oapi-codegen",
		"-config", "oapi-codegen.yaml", "-o", out, document)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, output)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("openapi.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("client/openapi.gen.go is not what %s generates: run `go generate ./client`", document)
	}
}

// TestEveryOperationHasAMethod checks that each operationId of the document is a method
// of the generated client, which is what Client.API returns.
func TestEveryOperationHasAMethod(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile(document)
	if err != nil {
		t.Fatal(err)
	}
	// The generator capitalises the id and spells initialisms in upper case (Id → ID), so
	// names are compared without regard to case.
	methods := map[string]bool{}
	api := reflect.TypeFor[*client.ClientWithResponses]()
	for i := range api.NumMethod() {
		if name, ok := strings.CutSuffix(api.Method(i).Name, "WithResponse"); ok {
			methods[strings.ToLower(name)] = true
		}
	}
	operations := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			operations++
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId, so the generated method has no stable name", method, path)
				continue
			}
			if !methods[strings.ToLower(op.OperationID)] {
				t.Errorf("%s %s (%s) has no method on client.ClientWithResponses", method, path, op.OperationID)
			}
		}
	}
	if operations == 0 {
		t.Fatalf("no operations read from %s", document)
	}
}
