{{/* hub.name is the chart's name, or nameOverride. */}}
{{- define "hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* hub.fullname names the release's objects. */}}
{{- define "hub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* hub.chart is the chart's name and version, for the helm.sh/chart label. */}}
{{- define "hub.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* hub.selectorLabels select the hub's pods. */}}
{{- define "hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* hub.labels go on every object. */}}
{{- define "hub.labels" -}}
helm.sh/chart: {{ include "hub.chart" . }}
{{ include "hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* hub.serviceAccountName is the ServiceAccount the pods run as. */}}
{{- define "hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* hub.maxReplicas is the most pods the release can run. */}}
{{- define "hub.maxReplicas" -}}
{{- if .Values.autoscaling.enabled }}
{{- .Values.autoscaling.maxReplicas | int }}
{{- else }}
{{- .Values.replicaCount | int }}
{{- end }}
{{- end }}

{{/*
hub.durationSeconds is the number of seconds in a Go duration as the hub's
config takes it ("5s", "1m30s", "1.5h", "250ms", "0"), the units ns, us, µs,
ms, s, m and h, without a sign. Called with (dict "key" "config.x.y" "value"
V); it fails on anything else, naming the key. A bare number is refused: the
hub would read it as nanoseconds.
*/}}
{{- define "hub.durationSeconds" -}}
{{- $d := .value | toString | trim }}
{{- $num := "([0-9]+(\\.[0-9]*)?|\\.[0-9]+)" }}
{{- $unit := "(ns|us|µs|μs|ms|s|m|h)" }}
{{- if not (regexMatch (printf "^(0|(%s%s)+)$" $num $unit) $d) }}
{{- fail (printf "hub: %s is %q: write a duration with its unit, such as 5s, 1m or 1m30s" .key $d) }}
{{- end }}
{{- $per := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "μs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 }}
{{- $total := 0.0 }}
{{- range regexFindAll (printf "%s%s" $num $unit) $d -1 }}
{{- $n := regexFind (printf "^%s" $num) . }}
{{- $total = addf $total (mulf ($n | float64) (get $per (trimPrefix $n .))) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
hub.allowListEgress renders NetworkPolicy egress rules for the addresses
config.egress.allow and config.webhooks.allow_list name: a CIDR as written, an
address as a /32 or /128 on every port, address:port on that TCP port. Host
names (host:port in webhooks.allow_list) have no address to allow; they need a
rule in networkPolicy.extraEgress.
*/}}
{{- define "hub.allowListEgress" -}}
{{- $cfg := .Values.config | default dict }}
{{- $entries := concat (dig "egress" "allow" (list) $cfg | default (list)) (dig "webhooks" "allow_list" (list) $cfg | default (list)) }}
{{- range $entries }}
{{- $e := . | toString | trim }}
{{- $cidr := "" }}
{{- $port := "" }}
{{- if contains "/" $e }}
{{- $cidr = $e }}
{{- else if regexMatch "^[0-9]+(\\.[0-9]+){3}$" $e }}
{{- $cidr = printf "%s/32" $e }}
{{- else if regexMatch "^[0-9]+(\\.[0-9]+){3}:[0-9]+$" $e }}
{{- $cidr = printf "%s/32" (regexReplaceAll ":[0-9]+$" $e "") }}
{{- $port = regexFind "[0-9]+$" $e }}
{{- else if regexMatch "^\\[[0-9A-Fa-f:.]+\\]:[0-9]+$" $e }}
{{- $cidr = printf "%s/128" (regexReplaceAll "^\\[([^]]+)\\]:[0-9]+$" $e "${1}") }}
{{- $port = regexFind "[0-9]+$" $e }}
{{- else if regexMatch "^[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*$" $e }}
{{- $cidr = printf "%s/128" $e }}
{{- end }}
{{- if $cidr }}
- to:
    - ipBlock:
        cidr: {{ $cidr | quote }}
  {{- if $port }}
  ports:
    - port: {{ $port | int }}
      protocol: TCP
  {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
hub.validate stops rendering on values that would deploy a broken hub. It
renders nothing when the values are sound.
*/}}
{{- define "hub.validate" -}}
{{- $max := include "hub.maxReplicas" . | int }}
{{- if lt (.Values.replicaCount | int) 1 }}
{{- fail (printf "hub: replicaCount is %d; it must be at least 1" (.Values.replicaCount | int)) }}
{{- end }}
{{- if and (gt $max 1) (not .Values.postgres.existingSecret) }}
{{- fail (printf "hub: %d replicas need Postgres, but postgres.existingSecret is empty: replicas share tenants, accounts and the outbox only through Postgres. Set postgres.existingSecret to a Secret holding the postgres:// URL under postgres.key (%q), or run replicaCount=1 with autoscaling.enabled=false on the embedded SQLite store" $max .Values.postgres.key) }}
{{- end }}
{{- if and .Values.postgres.existingSecret (not .Values.postgres.key) }}
{{- fail "hub: postgres.key is empty: name the key of postgres.existingSecret that holds the postgres:// URL" }}
{{- end }}
{{- if and .Values.postgres.existingSecret (not .Values.secretKey.existingSecret) }}
{{- fail "hub: postgres.existingSecret is set but secretKey.existingSecret is empty: every replica and restart must seal credentials with the same key. Create one (kubectl create secret generic hub-secret-key --from-literal=key=$(openssl rand -hex 32)) and set secretKey.existingSecret" }}
{{- end }}
{{- if and .Values.secretKey.existingSecret (not .Values.secretKey.key) }}
{{- fail "hub: secretKey.key is empty: name the key of secretKey.existingSecret that holds the sealing key" }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
{{- if lt (.Values.autoscaling.minReplicas | int) 1 }}
{{- fail "hub: autoscaling.minReplicas must be at least 1" }}
{{- end }}
{{- if gt (.Values.autoscaling.minReplicas | int) (.Values.autoscaling.maxReplicas | int) }}
{{- fail (printf "hub: autoscaling.minReplicas (%d) is above autoscaling.maxReplicas (%d)" (.Values.autoscaling.minReplicas | int) (.Values.autoscaling.maxReplicas | int)) }}
{{- end }}
{{- end }}
{{- $store := get (.Values.config | default dict) "store" | default dict }}
{{- if and (kindIs "map" $store) (hasKey $store "postgres_url") }}
{{- fail "hub: config.store.postgres_url would put a secret into a ConfigMap; put the URL in a Secret and set postgres.existingSecret instead" }}
{{- end }}
{{- if and .Values.persistence.existingClaim (gt $max 1) }}
{{- fail "hub: persistence.existingClaim holds one replica's SQLite store; with more than one replica use Postgres and leave persistence.existingClaim empty" }}
{{- end }}
{{- $server := get (.Values.config | default dict) "server" | default dict }}
{{- if kindIs "map" $server }}
{{- $drain := get $server "drain_delay" | default "0s" }}
{{- $grace := get $server "shutdown_grace" | default "30s" }}
{{- $need := addf (include "hub.durationSeconds" (dict "key" "config.server.drain_delay" "value" $drain) | float64) (include "hub.durationSeconds" (dict "key" "config.server.shutdown_grace" "value" $grace) | float64) }}
{{- $tgps := .Values.terminationGracePeriodSeconds | int }}
{{- if le ($tgps | float64) $need }}
{{- fail (printf "hub: terminationGracePeriodSeconds (%d) must be above config.server.drain_delay (%v) + config.server.shutdown_grace (%v) = %vs: Kubernetes kills the pod when the grace period ends, cutting off the requests still draining. Raise terminationGracePeriodSeconds or shorten the two" $tgps $drain $grace $need) }}
{{- end }}
{{- end }}
{{- $metrics := get (.Values.config | default dict) "metrics" | default dict }}
{{- if and .Values.serviceMonitor.enabled (kindIs "map" $metrics) (hasKey $metrics "enabled") (not $metrics.enabled) }}
{{- fail "hub: serviceMonitor.enabled needs config.metrics.enabled: the hub serves no /metrics with it off" }}
{{- end }}
{{- end }}
