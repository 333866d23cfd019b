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
{{- $metrics := get (.Values.config | default dict) "metrics" | default dict }}
{{- if and .Values.serviceMonitor.enabled (kindIs "map" $metrics) (hasKey $metrics "enabled") (not $metrics.enabled) }}
{{- fail "hub: serviceMonitor.enabled needs config.metrics.enabled: the hub serves no /metrics with it off" }}
{{- end }}
{{- end }}
