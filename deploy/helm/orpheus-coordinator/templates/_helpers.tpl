{{- define "orpheus.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "orpheus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "orpheus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orpheus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "orpheus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "orpheus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "orpheus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "orpheus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "orpheus.apiKeySecret" -}}
{{- if .Values.apiKey.existingSecret -}}
{{- .Values.apiKey.existingSecret -}}
{{- else if .Values.apiKey.value -}}
{{- printf "%s-api-key" (include "orpheus.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "orpheus.modelsClaim" -}}
{{- default (printf "%s-models" (include "orpheus.fullname" .)) .Values.models.persistence.existingClaim -}}
{{- end -}}

{{- define "orpheus.voicesClaim" -}}
{{- default (printf "%s-voices" (include "orpheus.fullname" .)) .Values.voices.persistence.existingClaim -}}
{{- end -}}

{{/* Fails the render on value combinations that cannot work, naming the fix. */}}
{{- define "orpheus.validate" -}}
{{- if and .Values.autoscaling.hpa.enabled .Values.autoscaling.keda.enabled -}}
{{- fail "autoscaling.hpa.enabled and autoscaling.keda.enabled are exclusive (KEDA makes its own HPA): enable one" -}}
{{- end -}}
{{- range $name := list "MODELS_DIR" "AUTO_DOWNLOAD" "HOST" "PORT" "SHUTDOWN_GRACE_S" "N_GPU_LAYERS" "SNAC_DEVICE" "API_KEY" "ALLOW_NO_AUTH" "HF_TOKEN" -}}
{{- if hasKey $.Values.config $name -}}
{{- fail (printf "config.%s is set by the chart: use the matching chart value instead (see values.yaml)" $name) -}}
{{- end -}}
{{- end -}}
{{- if and (not (include "orpheus.apiKeySecret" .)) (not .Values.allowNoAuth) -}}
{{- fail "the server listens on all interfaces, so it needs an API key: set apiKey.existingSecret (or apiKey.value), or allowNoAuth=true to serve without authentication" -}}
{{- end -}}
{{- end -}}
