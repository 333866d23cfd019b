package helm

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir      = "hub"
	releaseName   = "hub"
	namespace     = "carriers"
	referencePath = "../../engine/config/REFERENCE.md"
)

// manifests are a rendered release's objects, decoded strictly into their
// Kubernetes types, so a misspelt field fails the test.
type manifests struct {
	deployment     *appsv1.Deployment
	service        *corev1.Service
	configMap      *corev1.ConfigMap
	serviceAccount *corev1.ServiceAccount
	pdb            *policyv1.PodDisruptionBudget
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	networkPolicy  *networkingv1.NetworkPolicy
	serviceMonitor map[string]any
	notes          string
	kinds          []string
}

// render renders the chart with vals over its defaults, as helm template
// would, and returns the rendered files by name.
func render(vals map[string]any) (map[string]string, error) {
	ch, err := loader.LoadDir(chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading chart: %w", err)
	}
	opts := common.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := util.ToRenderValues(ch, vals, opts, common.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return engine.Render(ch, top)
}

// renderManifests renders the chart and decodes every object it makes.
func renderManifests(t *testing.T, vals map[string]any) *manifests {
	t.Helper()
	files, err := render(vals)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	m := &manifests{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body := files[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			m.notes = body
			continue
		}
		for _, doc := range strings.Split(body, "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, doc)
			}
			m.kinds = append(m.kinds, meta.Kind)
			var target any
			switch meta.APIVersion + "/" + meta.Kind {
			case "apps/v1/Deployment":
				m.deployment = &appsv1.Deployment{}
				target = m.deployment
			case "v1/Service":
				m.service = &corev1.Service{}
				target = m.service
			case "v1/ConfigMap":
				m.configMap = &corev1.ConfigMap{}
				target = m.configMap
			case "v1/ServiceAccount":
				m.serviceAccount = &corev1.ServiceAccount{}
				target = m.serviceAccount
			case "policy/v1/PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				target = m.pdb
			case "autoscaling/v2/HorizontalPodAutoscaler":
				m.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
				target = m.hpa
			case "networking.k8s.io/v1/NetworkPolicy":
				m.networkPolicy = &networkingv1.NetworkPolicy{}
				target = m.networkPolicy
			case "monitoring.coreos.com/v1/ServiceMonitor":
				m.serviceMonitor = map[string]any{}
				target = &m.serviceMonitor
			default:
				t.Fatalf("%s: unexpected object %s %s", name, meta.APIVersion, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
				t.Fatalf("%s: %s does not decode strictly: %v\n%s", name, meta.Kind, err, doc)
			}
		}
	}
	sort.Strings(m.kinds)
	if m.deployment == nil || m.service == nil || m.configMap == nil {
		t.Fatalf("rendered %v: want at least a Deployment, a Service and a ConfigMap", m.kinds)
	}
	return m
}

// lintChart lints the chart with vals as helm lint --strict does and fails
// the test on any warning or error.
func lintChart(t *testing.T, vals map[string]any) {
	t.Helper()
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	res := l.Run([]string{chartDir}, vals)
	for _, msg := range res.Messages {
		if msg.Severity > support.InfoSev {
			t.Errorf("lint: %s", msg)
		} else {
			t.Logf("lint: %s", msg)
		}
	}
	for _, err := range res.Errors {
		t.Errorf("lint: %v", err)
	}
	if res.TotalChartsLinted != 1 {
		t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
	}
}

// withPostgres are values for a release on an external Postgres and Kafka.
func withPostgres(extra map[string]any) map[string]any {
	v := map[string]any{
		"postgres":  map[string]any{"existingSecret": "hub-db", "key": "dsn"},
		"secretKey": map[string]any{"existingSecret": "hub-sealing", "key": "hex"},
		"kafka":     map[string]any{"brokers": []any{"kafka-0.kafka:9092", "kafka-1.kafka:9092"}},
	}
	for k, val := range extra {
		v[k] = val
	}
	return v
}

func container(t *testing.T, m *manifests) corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0]
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func TestChartDefaults(t *testing.T) {
	lintChart(t, nil)
	m := renderManifests(t, nil)

	wantKinds := []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"}
	if !slices.Equal(m.kinds, wantKinds) {
		t.Errorf("default objects %v, want %v (HPA, ServiceMonitor and NetworkPolicy off by default)", m.kinds, wantKinds)
	}
	d := m.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	c := container(t, m)
	if c.Image != "carrierhub/hub:0.1.0" {
		t.Errorf("image %q, want the chart's appVersion as tag", c.Image)
	}

	checkProbe(t, "startup", c.StartupProbe, "/healthz")
	checkProbe(t, "liveness", c.LivenessProbe, "/healthz")
	checkProbe(t, "readiness", c.ReadinessProbe, "/readyz")
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, want http 8080", c.Ports)
	}
	if !slices.Equal(c.Args, []string{"serve", "--config", "/etc/hub/config.yaml", "--listen", "0.0.0.0:8080", "--data-dir", "/data"}) {
		t.Errorf("args %q", c.Args)
	}

	checkSecurity(t, m)
	checkConfigMounted(t, m)

	// The default values name the Postgres and sealing-key Secrets, so two
	// replicas share one store and one key.
	checkSecretEnv(t, c, "HUB_POSTGRES_URL", "hub-postgres", "url")
	checkSecretEnv(t, c, "HUB_SECRET_KEY", "hub-secret-key", "key")
	if e := envVar(c, "HUB_KAFKA_BROKERS"); e != nil {
		t.Errorf("HUB_KAFKA_BROKERS set with no brokers: %+v", e)
	}

	if m.pdb == nil || m.pdb.Spec.MinAvailable == nil || m.pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Fatalf("PodDisruptionBudget %+v, want minAvailable 1", m.pdb)
	}
	if !selects(m.pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("PDB selector %v does not select the pods %v", m.pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	if !selects(m.service.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the pods %v", m.service.Spec.Selector, d.Spec.Template.Labels)
	}
	if p := m.service.Spec.Ports; len(p) != 1 || p[0].Port != 8080 || p[0].TargetPort.String() != "http" {
		t.Errorf("service ports %+v", p)
	}
	if d.Spec.Template.Spec.ServiceAccountName != m.serviceAccount.Name {
		t.Errorf("pods run as %q, chart made ServiceAccount %q", d.Spec.Template.Spec.ServiceAccountName, m.serviceAccount.Name)
	}
	if a := d.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Error("service account token is mounted; the hub never calls the Kubernetes API")
	}
	checkGracePeriod(t, m)
	cfg := configYAML(t, m)
	if dd := dig(cfg, "server", "drain_delay"); dd != "5s" {
		t.Errorf("config server.drain_delay %v, want 5s so the Service drops the pod before it stops accepting", dd)
	}
	// The allow-lists are spelt out, empty: connectors and webhooks reach the
	// public internet only.
	for _, key := range [][]string{{"egress", "allow"}, {"webhooks", "allow_list"}} {
		if l, ok := dig(cfg, key...).([]any); !ok || len(l) != 0 {
			t.Errorf("config %s is %#v, want an empty list", strings.Join(key, "."), dig(cfg, key...))
		}
	}
	if !strings.Contains(m.notes, "/readyz") || !strings.Contains(m.notes, "hub-postgres") {
		t.Errorf("NOTES.txt lacks the readiness path or the Postgres Secret:\n%s", m.notes)
	}
	if !strings.Contains(m.notes, "drain_delay (5s)") || strings.Contains(m.notes, "NetworkPolicy:") {
		t.Errorf("NOTES.txt lacks the drain delay, or describes a NetworkPolicy the chart did not make:\n%s", m.notes)
	}
	if m.networkPolicy != nil {
		t.Error("a NetworkPolicy by default; it needs the cluster's Postgres and Kafka addresses, so it is opt-in")
	}
}

func TestChartReplicasWithPostgres(t *testing.T) {
	vals := withPostgres(map[string]any{
		"replicaCount":   3,
		"image":          map[string]any{"tag": "v1.4.2"},
		"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}},
		"config":         map[string]any{"log": map[string]any{"level": "debug"}, "idempotency": map[string]any{"ttl": "48h"}},
	})
	lintChart(t, vals)
	m := renderManifests(t, vals)
	if r := m.deployment.Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("replicas %v, want 3", r)
	}
	c := container(t, m)
	if c.Image != "carrierhub/hub:v1.4.2" {
		t.Errorf("image %q", c.Image)
	}
	checkSecretEnv(t, c, "HUB_POSTGRES_URL", "hub-db", "dsn")
	checkSecretEnv(t, c, "HUB_SECRET_KEY", "hub-sealing", "hex")
	if e := envVar(c, "HUB_KAFKA_BROKERS"); e == nil || e.Value != "kafka-0.kafka:9092,kafka-1.kafka:9092" {
		t.Errorf("HUB_KAFKA_BROKERS %+v", e)
	}
	checkConfigMounted(t, m)
	cfg := configYAML(t, m)
	if lvl := cfg["log"].(map[string]any)["level"]; lvl != "debug" {
		t.Errorf("config log.level %v, want the override debug", lvl)
	}
	if ttl := cfg["idempotency"].(map[string]any)["ttl"]; ttl != "48h" {
		t.Errorf("config idempotency.ttl %v, want 48h", ttl)
	}
	if m.pdb == nil {
		t.Error("no PodDisruptionBudget for 3 replicas")
	}

	sm := m.serviceMonitor
	if sm == nil {
		t.Fatal("serviceMonitor.enabled made no ServiceMonitor")
	}
	labels := dig(sm, "metadata", "labels").(map[string]any)
	if labels["release"] != "prom" {
		t.Errorf("ServiceMonitor labels %v lack release=prom", labels)
	}
	eps := dig(sm, "spec", "endpoints").([]any)
	ep := eps[0].(map[string]any)
	if ep["port"] != "http" || ep["path"] != "/metrics" {
		t.Errorf("ServiceMonitor endpoint %v, want port http path /metrics", ep)
	}
	sel := dig(sm, "spec", "selector", "matchLabels").(map[string]any)
	svcLabels := map[string]string{}
	for k, v := range m.service.Labels {
		svcLabels[k] = v
	}
	for k, v := range sel {
		if svcLabels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%v, the Service has %q", k, v, svcLabels[k])
		}
	}
}

func TestChartAutoscaling(t *testing.T) {
	vals := withPostgres(map[string]any{
		"autoscaling": map[string]any{"enabled": true, "minReplicas": 3, "maxReplicas": 12, "targetCPUUtilizationPercentage": 65},
	})
	lintChart(t, vals)
	m := renderManifests(t, vals)
	if m.deployment.Spec.Replicas != nil {
		t.Errorf("replicas %d set while the HPA owns the count", *m.deployment.Spec.Replicas)
	}
	h := m.hpa
	if h == nil {
		t.Fatalf("no HorizontalPodAutoscaler among %v", m.kinds)
	}
	ref := h.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != m.deployment.Name {
		t.Errorf("HPA targets %+v, want Deployment %s", ref, m.deployment.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 3 || h.Spec.MaxReplicas != 12 {
		t.Errorf("HPA replicas %v..%d, want 3..12", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) != 1 {
		t.Fatalf("HPA metrics %+v, want one", h.Spec.Metrics)
	}
	res := h.Spec.Metrics[0].Resource
	if res == nil || res.Name != corev1.ResourceCPU || res.Target.Type != autoscalingv2.UtilizationMetricType ||
		res.Target.AverageUtilization == nil || *res.Target.AverageUtilization != 65 {
		t.Errorf("HPA metric %+v, want CPU utilization 65%%", h.Spec.Metrics[0])
	}
	// Utilization is a share of the request: the container must request CPU.
	if _, ok := container(t, m).Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Error("HPA on CPU utilization but the container requests no CPU")
	}
	if m.pdb == nil {
		t.Error("no PodDisruptionBudget with autoscaling")
	}
}

func TestChartSingleReplicaSQLite(t *testing.T) {
	vals := map[string]any{
		"replicaCount": 1,
		"postgres":     map[string]any{"existingSecret": ""},
		"secretKey":    map[string]any{"existingSecret": ""},
		"persistence":  map[string]any{"existingClaim": "hub-data"},
	}
	lintChart(t, vals)
	m := renderManifests(t, vals)
	c := container(t, m)
	if envVar(c, "HUB_POSTGRES_URL") != nil || envVar(c, "HUB_SECRET_KEY") != nil {
		t.Errorf("env %+v: no Secrets were configured", c.Env)
	}
	if m.pdb != nil {
		t.Error("a PodDisruptionBudget with minAvailable 1 over one replica would block every node drain")
	}
	if m.deployment.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate for a single SQLite pod on a claim", m.deployment.Spec.Strategy.Type)
	}
	v := volume(t, m, "data")
	if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "hub-data" {
		t.Errorf("data volume %+v, want the claim hub-data", v.VolumeSource)
	}
}

func TestChartNetworkPolicy(t *testing.T) {
	postgres := map[string]any{
		"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.20.0.5/32"}}},
		"ports": []any{map[string]any{"port": 5432, "protocol": "TCP"}},
	}
	kafka := map[string]any{
		"to": []any{map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "kafka"}},
			"podSelector":       map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "kafka"}},
		}},
		"ports": []any{map[string]any{"port": 9092, "protocol": "TCP"}},
	}
	vals := withPostgres(map[string]any{
		"networkPolicy": map[string]any{
			"enabled":     true,
			"extraEgress": []any{postgres, kafka},
		},
		"config": map[string]any{
			"egress":   map[string]any{"allow": []any{"10.30.0.0/16", "192.168.7.9"}},
			"webhooks": map[string]any{"allow_list": []any{"10.40.1.2:8443", "[fd00::7]:443", "erp.internal:443", "fd00:1::/64"}},
		},
	})
	lintChart(t, vals)
	m := renderManifests(t, vals)
	np := m.networkPolicy
	if np == nil {
		t.Fatalf("networkPolicy.enabled made no NetworkPolicy among %v", m.kinds)
	}
	if !selects(np.Spec.PodSelector.MatchLabels, m.deployment.Spec.Template.Labels) {
		t.Errorf("NetworkPolicy selector %v does not select the pods %v", np.Spec.PodSelector.MatchLabels, m.deployment.Spec.Template.Labels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes %v, want Ingress and Egress", np.Spec.PolicyTypes)
	}

	// Ingress: the http port (API, /metrics, probes), from anywhere by default.
	if len(np.Spec.Ingress) != 1 {
		t.Fatalf("ingress rules %+v, want one", np.Spec.Ingress)
	}
	in := np.Spec.Ingress[0]
	if len(in.From) != 0 || len(in.Ports) != 1 || in.Ports[0].Port == nil || in.Ports[0].Port.String() != "http" ||
		in.Ports[0].Protocol == nil || *in.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("ingress rule %+v, want TCP to the http port from anywhere", in)
	}

	type rule struct {
		to    []string // ipBlock CIDRs, "except" ranges after a "-"
		ports []string // protocol/port
	}
	var got []rule
	for _, r := range np.Spec.Egress {
		var g rule
		for _, p := range r.To {
			switch {
			case p.IPBlock != nil:
				g.to = append(g.to, p.IPBlock.CIDR)
				for _, e := range p.IPBlock.Except {
					g.to = append(g.to, "-"+e)
				}
			default:
				g.to = append(g.to, "selector")
			}
		}
		for _, p := range r.Ports {
			g.ports = append(g.ports, fmt.Sprintf("%s/%s", *p.Protocol, p.Port.String()))
		}
		got = append(got, g)
	}
	want := []rule{
		{ports: []string{"UDP/53", "TCP/53"}},
		{to: []string{
			"0.0.0.0/0", "-10.0.0.0/8", "-100.64.0.0/10", "-127.0.0.0/8", "-169.254.0.0/16", "-172.16.0.0/12", "-192.168.0.0/16",
			"::/0", "-::1/128", "-fc00::/7", "-fe80::/10",
		}},
		// config.egress.allow, then config.webhooks.allow_list; the host name
		// erp.internal has no address to allow.
		{to: []string{"10.30.0.0/16"}},
		{to: []string{"192.168.7.9/32"}},
		{to: []string{"10.40.1.2/32"}, ports: []string{"TCP/8443"}},
		{to: []string{"fd00::7/128"}, ports: []string{"TCP/443"}},
		{to: []string{"fd00:1::/64"}},
		// networkPolicy.extraEgress as written: Postgres and Kafka.
		{to: []string{"10.20.0.5/32"}, ports: []string{"TCP/5432"}},
		{to: []string{"selector"}, ports: []string{"TCP/9092"}},
	}
	if len(got) != len(want) {
		t.Fatalf("egress rules\n%v\nwant\n%v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i].to, want[i].to) || !slices.Equal(got[i].ports, want[i].ports) {
			t.Errorf("egress rule %d: to %v ports %v, want to %v ports %v", i, got[i].to, got[i].ports, want[i].to, want[i].ports)
		}
	}
	if !strings.Contains(m.notes, "NetworkPolicy: ingress to the http port from anywhere") || !strings.Contains(m.notes, "2 rules in networkPolicy.extraEgress") {
		t.Errorf("NOTES.txt does not describe the NetworkPolicy:\n%s", m.notes)
	}

	// Restricted: ingress from named peers only, and no public internet.
	vals = withPostgres(map[string]any{
		"networkPolicy": map[string]any{
			"enabled":        true,
			"publicInternet": false,
			"ingressFrom": []any{map[string]any{
				"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "ingress-nginx"}},
			}},
		},
	})
	lintChart(t, vals)
	np = renderManifests(t, vals).networkPolicy
	if from := np.Spec.Ingress[0].From; len(from) != 1 || from[0].NamespaceSelector == nil ||
		from[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "ingress-nginx" {
		t.Errorf("ingress from %+v, want the ingress-nginx namespace", from)
	}
	if len(np.Spec.Egress) != 1 || len(np.Spec.Egress[0].To) != 0 {
		t.Errorf("egress %+v, want DNS only with publicInternet false and empty allow-lists", np.Spec.Egress)
	}
}

// TestChartGracePeriodDurations checks the chart's reading of Go durations
// against time.ParseDuration: terminationGracePeriodSeconds one second above
// drain_delay + shutdown_grace renders, the whole seconds at or below it are
// refused.
func TestChartGracePeriodDurations(t *testing.T) {
	tests := []struct{ drain, grace string }{
		{"5s", "30s"},
		{"0", "1m"},
		{"1m30s", "1.5m"},
		{"250ms", "30s"},
		{".5s", "29.5s"},
		{"1500us", "10s"},
		{"2µs", "1h"},
		{"1h0m0s", "0s"},
		{"500000000ns", "1m0.25s"},
	}
	for _, tt := range tests {
		t.Run(tt.drain+"+"+tt.grace, func(t *testing.T) {
			d, err := time.ParseDuration(tt.drain)
			if err != nil {
				t.Fatal(err)
			}
			g, err := time.ParseDuration(tt.grace)
			if err != nil {
				t.Fatal(err)
			}
			floor := int((d + g) / time.Second)
			vals := func(tgps int) map[string]any {
				return withPostgres(map[string]any{
					"terminationGracePeriodSeconds": tgps,
					"config":                        map[string]any{"server": map[string]any{"drain_delay": tt.drain, "shutdown_grace": tt.grace}},
				})
			}
			m := renderManifests(t, vals(floor+1))
			checkGracePeriod(t, m)
			if floor < 1 {
				return
			}
			if _, err := render(vals(floor)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("terminationGracePeriodSeconds (%d) must be above", floor)) {
				t.Errorf("terminationGracePeriodSeconds %d for %s: render error %v, want a refusal", floor, d+g, err)
			}
		})
	}
}

// TestChartRefusesUnsafeValues renders values that would deploy a broken or
// leaky hub and expects the chart's fail message. (helm lint turns fail into
// an informational log in lint mode, so rendering is what is checked.)
func TestChartRefusesUnsafeValues(t *testing.T) {
	tests := []struct {
		name string
		vals map[string]any
		want string
	}{
		{"replicas without postgres", map[string]any{"replicaCount": 3, "postgres": map[string]any{"existingSecret": ""}},
			"3 replicas need Postgres, but postgres.existingSecret is empty"},
		{"autoscaling without postgres", map[string]any{"replicaCount": 1, "postgres": map[string]any{"existingSecret": ""},
			"autoscaling": map[string]any{"enabled": true, "minReplicas": 1, "maxReplicas": 4}},
			"4 replicas need Postgres"},
		{"postgres without sealing key", map[string]any{"secretKey": map[string]any{"existingSecret": ""}},
			"secretKey.existingSecret is empty"},
		{"postgres url in config", withPostgres(map[string]any{"config": map[string]any{"store": map[string]any{"postgres_url": "postgres://u:p@db/hub"}}}),
			"would put a secret into a ConfigMap"},
		{"zero replicas", withPostgres(map[string]any{"replicaCount": 0}), "replicaCount is 0"},
		{"min above max", withPostgres(map[string]any{"autoscaling": map[string]any{"enabled": true, "minReplicas": 5, "maxReplicas": 2}}),
			"autoscaling.minReplicas (5) is above autoscaling.maxReplicas (2)"},
		{"claim with replicas", withPostgres(map[string]any{"persistence": map[string]any{"existingClaim": "hub-data"}}),
			"persistence.existingClaim holds one replica's SQLite store"},
		{"service monitor without metrics", withPostgres(map[string]any{"serviceMonitor": map[string]any{"enabled": true},
			"config": map[string]any{"metrics": map[string]any{"enabled": false}}}),
			"serviceMonitor.enabled needs config.metrics.enabled"},
		{"grace period not above drain and shutdown", withPostgres(map[string]any{"terminationGracePeriodSeconds": 35}),
			"terminationGracePeriodSeconds (35) must be above config.server.drain_delay (5s) + config.server.shutdown_grace (30s) = 35s"},
		{"grace period under a shutdown grace in minutes", withPostgres(map[string]any{"config": map[string]any{"server": map[string]any{"shutdown_grace": "1m"}}}),
			"terminationGracePeriodSeconds (45) must be above config.server.drain_delay (5s) + config.server.shutdown_grace (1m) = 65s"},
		{"grace period under the default shutdown grace", withPostgres(map[string]any{"terminationGracePeriodSeconds": 30,
			"config": map[string]any{"server": map[string]any{"drain_delay": nil, "shutdown_grace": nil}}}),
			"terminationGracePeriodSeconds (30) must be above config.server.drain_delay (0s) + config.server.shutdown_grace (30s) = 30s"},
		// values.schema.json catches typos and wrong types before the templates run.
		{"misspelt key", withPostgres(map[string]any{"replicas": 3}), "additional properties 'replicas' not allowed"},
		{"replicas as text", withPostgres(map[string]any{"replicaCount": "three"}), "/replicaCount': got string, want integer"},
		{"broker without port", withPostgres(map[string]any{"kafka": map[string]any{"brokers": []any{"kafka-0"}}}), "/kafka/brokers/0'"},
		{"duration without unit", withPostgres(map[string]any{"config": map[string]any{"server": map[string]any{"drain_delay": "5"}}}),
			"/config/server/drain_delay'"},
		{"duration as number", withPostgres(map[string]any{"config": map[string]any{"server": map[string]any{"shutdown_grace": 30}}}),
			"/config/server/shutdown_grace': got number, want string"},
		{"allow-list as text", withPostgres(map[string]any{"config": map[string]any{"egress": map[string]any{"allow": "10.0.0.0/8"}}}),
			"/config/egress/allow': got string, want array"},
		{"misspelt network policy key", withPostgres(map[string]any{"networkPolicy": map[string]any{"enable": true}}),
			"additional properties 'enable' not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(tt.vals)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("render error %v, want one saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "u:p@") {
				t.Errorf("error repeats the Postgres URL: %v", err)
			}
		})
	}
}

func checkProbe(t *testing.T, name string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe %+v, want GET %s", name, p, path)
		return
	}
	if p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
		t.Errorf("%s probe GET %s on port %s, want %s on http", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
	}
}

// checkGracePeriod proves Kubernetes waits longer after SIGTERM than the hub
// takes to leave rotation (server.drain_delay) and drain (server.shutdown_grace),
// reading both from the rendered config with the hub's defaults.
func checkGracePeriod(t *testing.T, m *manifests) {
	t.Helper()
	cfg := configYAML(t, m)
	total := time.Duration(0)
	for key, def := range map[string]string{"drain_delay": "0s", "shutdown_grace": "30s"} {
		v, ok := dig(cfg, "server", key).(string)
		if !ok {
			v = def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("config server.%s: %v", key, err)
		}
		total += d
	}
	g := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
	if g == nil || time.Duration(*g)*time.Second <= total {
		t.Errorf("terminationGracePeriodSeconds %v, want more than drain_delay + shutdown_grace = %s", g, total)
	}
}

func checkSecurity(t *testing.T, m *manifests) {
	t.Helper()
	pod := m.deployment.Spec.Template.Spec
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v, want runAsNonRoot with a non-zero uid", ps)
	}
	c := container(t, m)
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("container may run as root")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("root filesystem is writable")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("privilege escalation allowed")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop ALL and add none", sc.Capabilities)
	}
	// A read-only root needs writable emptyDirs where the hub writes: /tmp
	// (connector sockets) and the data directory.
	for _, mount := range []struct{ volume, path string }{{"tmp", "/tmp"}, {"data", "/data"}} {
		if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
			return vm.Name == mount.volume && vm.MountPath == mount.path && !vm.ReadOnly
		}) {
			t.Errorf("no writable mount of %s at %s: %+v", mount.volume, mount.path, c.VolumeMounts)
		}
		if v := volume(t, m, mount.volume); v.EmptyDir == nil && v.PersistentVolumeClaim == nil {
			t.Errorf("volume %s is %+v, want an emptyDir", mount.volume, v.VolumeSource)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}
}

// checkConfigMounted proves the ConfigMap holds the hub's YAML config, the
// pod mounts it and --config names the mounted file, and every key in it is a
// setting the hub's configuration reference documents (the hub refuses
// unknown keys at start).
func checkConfigMounted(t *testing.T, m *manifests) {
	t.Helper()
	c := container(t, m)
	mount := slices.IndexFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.Name == "config" })
	if mount < 0 {
		t.Fatalf("config volume not mounted: %+v", c.VolumeMounts)
	}
	dir := c.VolumeMounts[mount].MountPath
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != dir+"/config.yaml" {
		t.Errorf("args %q do not pass --config %s/config.yaml", c.Args, dir)
	}
	v := volume(t, m, "config")
	if v.ConfigMap == nil || v.ConfigMap.Name != m.configMap.Name {
		t.Errorf("config volume %+v, want ConfigMap %s", v.VolumeSource, m.configMap.Name)
	}
	if m.deployment.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: a config change would not roll the pods")
	}
	cfg := configYAML(t, m)
	ref, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range leafKeys("", cfg) {
		if !strings.Contains(string(ref), "`"+key+"`") {
			t.Errorf("config key %s is not in %s: the hub would refuse the file", key, referencePath)
		}
	}
}

// configYAML is the hub configuration the ConfigMap holds.
func configYAML(t *testing.T, m *manifests) map[string]any {
	t.Helper()
	raw, ok := m.configMap.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap data %v has no config.yaml", m.configMap.Data)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("config.yaml: %v\n%s", err, raw)
	}
	if len(cfg) == 0 {
		t.Fatalf("config.yaml is empty:\n%s", raw)
	}
	return cfg
}

// leafKeys lists the dotted paths of v's scalar values.
func leafKeys(prefix string, v map[string]any) []string {
	var keys []string
	for k, val := range v {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if sub, ok := val.(map[string]any); ok {
			keys = append(keys, leafKeys(path, sub)...)
		} else {
			keys = append(keys, path)
		}
	}
	sort.Strings(keys)
	return keys
}

func volume(t *testing.T, m *manifests, name string) corev1.Volume {
	t.Helper()
	for _, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %s", name)
	return corev1.Volume{}
}

func checkSecretEnv(t *testing.T, c corev1.Container, name, secret, key string) {
	t.Helper()
	e := envVar(c, name)
	if e == nil || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s is %+v, want it from Secret %s", name, e, secret)
		return
	}
	if ref := e.ValueFrom.SecretKeyRef; ref.Name != secret || ref.Key != key {
		t.Errorf("%s from Secret %s key %s, want %s key %s", name, ref.Name, ref.Key, secret, key)
	}
}

// selects reports whether selector matches a pod with labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// dig follows keys through nested maps.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestLeafKeysMatchReference guards checkConfigMounted: a key the reference
// lacks is caught.
func TestLeafKeysMatchReference(t *testing.T) {
	ref, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	keyCell := regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\|")
	if n := len(keyCell.FindAllString(string(ref), -1)); n < 10 {
		t.Fatalf("%s lists %d settings; the format changed", referencePath, n)
	}
	keys := leafKeys("", map[string]any{"log": map[string]any{"level": "info", "colour": "red"}})
	if !slices.Equal(keys, []string{"log.colour", "log.level"}) {
		t.Fatalf("leafKeys %v", keys)
	}
	if strings.Contains(string(ref), "`log.colour`") || !strings.Contains(string(ref), "`log.level`") {
		t.Fatal("reference check would not tell a real key from an unknown one")
	}
}
