package helm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chart = "../../deploy/helm/hookflow"

// helmBinary is the pinned Helm that `make helm` builds into bin/.
func helmBinary(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs("../../bin/helm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("bin/helm is missing: run `make helm` (make test does): %v", err)
	}
	return bin
}

func helm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// required are the values an install must give.
var required = []string{"--set", "databaseURL=postgres://hookflow:secret@db:5432/hookflow?sslmode=require", "--set", "adminKey=0123456789abcdef0123",
	"--set", "secretsKey=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}

// decodeStrictly decodes each rendered manifest into its Kubernetes type, refusing any
// field the type does not have, and returns them by kind.
func decodeStrictly(t *testing.T, rendered string) map[string][]any {
	t.Helper()
	types := map[string]func() any{
		"Deployment":              func() any { return &appsv1.Deployment{} },
		"Service":                 func() any { return &corev1.Service{} },
		"Secret":                  func() any { return &corev1.Secret{} },
		"Job":                     func() any { return &batchv1.Job{} },
		"PodDisruptionBudget":     func() any { return &policyv1.PodDisruptionBudget{} },
		"HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	}
	byKind := map[string][]any{}
	for _, doc := range strings.Split(rendered, "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
			continue
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		make, ok := types[head.Kind]
		if !ok {
			t.Fatalf("a manifest of kind %q, which the test does not know\n%s", head.Kind, doc)
		}
		obj := make()
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s does not decode strictly: %v\n%s", head.Kind, err, doc)
		}
		byKind[head.Kind] = append(byKind[head.Kind], obj)
	}
	return byKind
}

func TestChartLints(t *testing.T) {
	out := helm(t, append([]string{"lint", "--strict", chart}, required...)...)
	if !strings.Contains(out, "0 chart(s) failed") {
		t.Fatalf("helm lint:\n%s", out)
	}
}

// The default install: API and worker Deployments with readiness per role, a grace
// period that covers attempts in flight, both disruption budgets, the migration and
// search-attribute Jobs, and the Secret.
func TestChartRendersStrictly(t *testing.T) {
	byKind := decodeStrictly(t, helm(t, append([]string{"template", "hf", chart}, required...)...))
	if n := len(byKind["Deployment"]); n != 2 {
		t.Fatalf("%d Deployments, want api and worker", n)
	}
	for _, obj := range byKind["Deployment"] {
		d := obj.(*appsv1.Deployment)
		c := d.Spec.Template.Spec.Containers[0]
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s has no /readyz readiness probe", d.Name)
		}
		role := c.Args[len(c.Args)-1]
		switch role {
		case "--api":
			if *d.Spec.Replicas != 2 {
				t.Errorf("api replicas %d", *d.Spec.Replicas)
			}
		case "--worker":
			grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
			var shutdown string
			for _, e := range c.Env {
				if e.Name == "HOOKFLOW_SHUTDOWN_TIMEOUT" {
					shutdown = e.Value
				}
			}
			if grace == nil || *grace < 150 || shutdown != "130s" {
				t.Errorf("worker grace %v with shutdown timeout %q: the grace period must outlast attempts in flight", grace, shutdown)
			}
		default:
			t.Errorf("%s runs %v", d.Name, c.Args)
		}
	}
	if len(byKind["PodDisruptionBudget"]) != 2 || len(byKind["Job"]) != 2 || len(byKind["Secret"]) != 1 || len(byKind["Service"]) != 1 {
		t.Errorf("kinds rendered: %v", kinds(byKind))
	}
	if len(byKind["HorizontalPodAutoscaler"]) != 0 {
		t.Error("an autoscaler without asking for one")
	}
}

// Temporal Cloud with mTLS and an API key, a Secret of one's own, and the worker
// autoscaler.
func TestChartRendersTheOptionsStrictly(t *testing.T) {
	byKind := decodeStrictly(t, helm(t, "template", "hf", chart,
		"--set", "existingSecret=hookflow-secrets", "--set", "temporal.tls.clientCertSecret=temporal-client",
		"--set", "temporal.tls.caSecret=temporal-ca", "--set", "temporal.tls.serverName=acme.tmprl.cloud",
		"--set", "worker.autoscaling.enabled=true", "--set", "env.HOOKFLOW_RETENTION=240h"))
	if len(byKind["Secret"]) != 0 {
		t.Error("a Secret rendered although existingSecret names one")
	}
	if len(byKind["HorizontalPodAutoscaler"]) != 1 {
		t.Fatal("no worker autoscaler")
	}
	for _, obj := range byKind["Deployment"] {
		d := obj.(*appsv1.Deployment)
		env := map[string]string{}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		if env["TEMPORAL_TLS_CERT"] == "" || env["TEMPORAL_TLS_CA"] == "" || env["TEMPORAL_TLS_SERVER_NAME"] != "acme.tmprl.cloud" || env["HOOKFLOW_RETENTION"] != "240h" {
			t.Errorf("%s env %v", d.Name, env)
		}
		if len(d.Spec.Template.Spec.Volumes) != 2 || len(d.Spec.Template.Spec.Containers[0].VolumeMounts) != 2 {
			t.Errorf("%s mounts %v", d.Name, d.Spec.Template.Spec.Volumes)
		}
		if d.Spec.Replicas != nil && strings.HasSuffix(d.Name, "-worker") {
			t.Error("the autoscaled worker Deployment fixes its replicas")
		}
	}
}

// An install that forgets the database or the admin key is refused with a message.
func TestChartRefusesAnInstallWithoutItsSecrets(t *testing.T) {
	cmd := exec.Command(helmBinary(t), "template", "hf", chart)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "databaseURL") {
		t.Errorf("helm template without values: %v\n%s", err, out)
	}
}

func kinds(byKind map[string][]any) map[string]int {
	out := map[string]int{}
	for k, v := range byKind {
		out[k] = len(v)
	}
	return out
}
