{{/* The chart name. */}}
{{- define "chaosmonkey.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The object name prefix: release-chart, or the release name alone when it contains the chart name. */}}
{{- define "chaosmonkey.fullname" -}}
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

{{- define "chaosmonkey.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable across upgrades. */}}
{{- define "chaosmonkey.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chaosmonkey.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Standard labels (component defaults to operator). */}}
{{- define "chaosmonkey.labels" -}}
helm.sh/chart: {{ include "chaosmonkey.chart" . }}
{{ include "chaosmonkey.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: chaosmonkey-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "chaosmonkey.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chaosmonkey.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "chaosmonkey.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Rules for serving ChaosPlans (in a plan namespace, or cluster-wide). */}}
{{- define "chaosmonkey.planRules" -}}
- apiGroups: ["chaosmonkey.io"]
  resources: ["chaosplans"]
  verbs: ["list", "watch"]
- apiGroups: ["chaosmonkey.io"]
  resources: ["chaosplans/status"]
  verbs: ["patch"]
{{- end }}

{{/* Rules attacks need where they act (a plan namespace or an allowed namespace). */}}
{{- define "chaosmonkey.attackRules" -}}
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.rbac.podChaos }}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "delete"]
- apiGroups: [""]
  resources: ["pods/eviction"]
  verbs: ["create"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get"]
{{- end }}
{{- if .Values.rbac.secrets }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
{{- end }}

{{/* Plugin folders of ConfigMaps, joined with ':' (os.pathsep on Linux). */}}
{{- define "chaosmonkey.pluginPath" -}}
{{- $kind := .kind }}
{{- $paths := list }}
{{- range .names }}
{{- $paths = append $paths (printf "/plugins/%s/%s" $kind .) }}
{{- end }}
{{- join ":" $paths }}
{{- end }}
