{{/* Names, labels and the pieces every pod shares. */}}

{{- define "siteplane.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "siteplane.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: siteplane
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: operator or dashboard. */}}
{{- define "siteplane.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "siteplane.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "siteplane.webhookSecretName" -}}
{{- .Values.webhook.certificate.secretName | default (printf "%s-webhook-tls" (include "siteplane.fullname" .)) -}}
{{- end -}}

{{- define "siteplane.dataClaimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "siteplane.fullname" .)) -}}
{{- end -}}

{{/* Peering: standby replicas need it. */}}
{{- define "siteplane.peering" -}}
{{- if gt (int .Values.operator.replicas) 1 -}}true{{- end -}}
{{- end -}}

{{/* SITEPLANE_DATABASE_URL: a file on the data volume, or a URL from a Secret. */}}
{{- define "siteplane.databaseEnv" -}}
{{- if eq .Values.database.type "postgresql" }}
- name: SITEPLANE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.postgresql.existingSecret is required with database.type postgresql" .Values.database.postgresql.existingSecret }}
      key: {{ .Values.database.postgresql.key }}
{{- else }}
- name: SITEPLANE_DATABASE_URL
  value: sqlite:////var/lib/siteplane/siteplane.db
{{- end }}
{{- end -}}

{{/* The data volume: the SQLite database (and, unless a claim of their own is named, the zone files). */}}
{{- define "siteplane.dataVolume" -}}
- name: data
{{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "siteplane.dataClaimName" . }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}

{{- define "siteplane.checks" -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.operator.replicas) 1) -}}
{{- fail "operator.replicas > 1 needs database.type postgresql: replicas share the database" -}}
{{- end -}}
{{- if and (eq .Values.database.type "sqlite") .Values.dashboard.enabled (not .Values.persistence.enabled) -}}
{{- fail "the dashboard API reads the operator's SQLite file: it needs persistence.enabled (or database.type postgresql)" -}}
{{- end -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.dashboard.replicas) 1) -}}
{{- fail "dashboard.replicas > 1 needs database.type postgresql" -}}
{{- end -}}
{{- end -}}
