package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const typescriptSDK = "../sdk/typescript"

// TestTypeScriptSDK runs the TypeScript client's own tests (npm test) against a hookflow
// started here: an account, a subscription, an event post with its signed webhook, the
// delivery, paging and typed errors, besides the checks that need no server.
func TestTypeScriptSDK(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm not found (%v): the TypeScript client's tests need Node and npm (`make test` installs them)", err)
	}
	installNodeModules(t, npm)
	app := startApp(t, AppOptions{})

	cmd := exec.Command(npm, "test")
	cmd.Dir = typescriptSDK
	cmd.Env = append(os.Environ(), "HOOKFLOW_URL="+app.URL, "HOOKFLOW_ADMIN_KEY="+adminKey, "NO_COLOR=1")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm test in sdk/typescript: %v\n%s", err, output)
	}
}

// installNodeModules runs `npm ci` unless node_modules was installed from the current
// package-lock.json, which a stamp written after each install records: a test run then
// costs no download and no reinstall.
func installNodeModules(t *testing.T, npm string) {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(typescriptSDK, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	want := []byte(hex.EncodeToString(sum[:]))
	stamp := filepath.Join(typescriptSDK, "node_modules", ".package-lock.sha256")
	if got, err := os.ReadFile(stamp); err == nil && bytes.Equal(got, want) {
		return
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = typescriptSDK
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in sdk/typescript: %v\n%s", err, output)
	}
	if err := os.WriteFile(stamp, want, 0o644); err != nil {
		t.Fatal(err)
	}
}
