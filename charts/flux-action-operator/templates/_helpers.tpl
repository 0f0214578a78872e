{{/* Object names are those of config/ (fluxact-operator, fluxact-mcp, ...), with namePrefix in
place of "fluxact"; the admission policies and roles keep theirs (the policy's messages name the
roles), so one cluster has one installation of them. */}}

{{- define "fluxact.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; pass a dict with "ctx" (the root) and "component". */}}
{{- define "fluxact.labels" -}}
{{ include "fluxact.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ include "fluxact.chart" .ctx }}
{{- end }}

{{- define "fluxact.selectorLabels" -}}
app.kubernetes.io/name: flux-action-operator
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fluxact.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end }}
{{- end }}

{{/* Leader election: on with more than one replica, or when asked for. */}}
{{- define "fluxact.leaderElect" -}}
{{- if or (gt (int .Values.operator.replicas) 1) .Values.operator.leaderElection.enabled -}}
true
{{- end }}
{{- end }}

{{- define "fluxact.mcpSecretName" -}}
{{ .Values.mcp.token.existingSecret | default (printf "%s-mcp-token" .Values.namePrefix) }}
{{- end }}

{{/* The MutatingAdmissionPolicy version admission.mutating installs: v1 where the cluster serves it
(Kubernetes 1.36+), else v1beta1 where the cluster serves that (1.34 and 1.35 with feature gate
MutatingAdmissionPolicy), else v1. helm template without a cluster knows neither: it renders v1,
or v1beta1 with --api-versions admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy. */}}
{{- define "fluxact.mutatingAdmissionPolicyVersion" -}}
{{- if .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy" -}}
v1
{{- else if .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy" -}}
v1beta1
{{- else -}}
v1
{{- end -}}
{{- end }}
