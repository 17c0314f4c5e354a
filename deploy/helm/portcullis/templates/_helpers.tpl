{{/* Names and labels. */}}
{{- define "portcullis.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.labels" -}}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Where the pod's files are; gateway.yaml must name these paths. */}}
{{- define "portcullis.policyDir" -}}/etc/portcullis/policies{{- end -}}
{{- define "portcullis.tlsDir" -}}/etc/portcullis/tls{{- end -}}
{{- define "portcullis.sessionsDir" -}}/var/run/secrets/portcullis-sessions{{- end -}}

{{- define "portcullis.sessionsSecretName" -}}
{{- .Values.sessions.existingSecret | default (printf "%s-sessions" (include "portcullis.fullname" .)) -}}
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "portcullis.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.listenPort" -}}
{{- (.Values.config.listen | default dict).port | default 8443 -}}
{{- end -}}
{{- define "portcullis.adminPort" -}}
{{- (.Values.config.admin | default dict).port | default 9090 -}}
{{- end -}}
{{- define "portcullis.portName" -}}
{{- if .Values.tls.secretName -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{- define "portcullis.clientSecretName" -}}
{{- .Values.clientCredentials.secretName | default (printf "%s-client" (include "portcullis.fullname" .)) -}}
{{- end -}}

{{/*
gateway.yaml: .Values.config with listen.tls pointing at the TLS secret's mount. Fails on values
that would render a pod the gateway cannot run in.
*/}}
{{- define "portcullis.config" -}}
{{- if not (has .Values.mode (list "standalone" "sidecar")) -}}
{{- fail (printf "mode: %q (expected: standalone or sidecar)" .Values.mode) -}}
{{- end -}}
{{- $config := deepCopy .Values.config -}}
{{- $listen := $config.listen | default dict -}}
{{- if hasKey $listen "tls" -}}
{{- fail "config.listen.tls: set tls.secretName instead; the chart mounts the secret and fills in the paths" -}}
{{- end -}}
{{- if .Values.tls.secretName -}}
{{- $_ := set $listen "tls" (dict "certificate" (printf "%s/tls.crt" (include "portcullis.tlsDir" .)) "private-key" (printf "%s/tls.key" (include "portcullis.tlsDir" .))) -}}
{{- end -}}
{{- $_ := set $config "listen" $listen -}}
{{- if hasKey $config "sessions" -}}
{{- fail "config.sessions: set sessions.existingSecret (or nothing: the chart makes the key) instead; the chart mounts the key and fills in the paths" -}}
{{- end -}}
{{- $sessions := dict "key-file" (printf "%s/session.key" (include "portcullis.sessionsDir" .)) -}}
{{- if .Values.sessions.previousKey -}}
{{- $_ := set $sessions "previous-key-files" (list (printf "%s/previous.key" (include "portcullis.sessionsDir" .))) -}}
{{- end -}}
{{- $_ := set $config "sessions" $sessions -}}
{{- $admin := $config.admin | default dict -}}
{{- if ne ($admin.host | default "127.0.0.1") "0.0.0.0" -}}
{{- fail "config.admin.host: must be 0.0.0.0 so the kubelet can probe /readyz and /healthz on the pod IP (the Service never exposes the admin port)" -}}
{{- end -}}
{{- range $i, $route := $config.routes -}}
{{- if $route.policy -}}
{{- $file := trimPrefix (printf "%s/" (include "portcullis.policyDir" $)) $route.policy -}}
{{- if or (eq $file $route.policy) (contains "/" $file) (not (hasKey $.Values.policies $file)) -}}
{{- fail (printf "config.routes[%d].policy: %q (expected: %s/<file> with <file> a key of policies)" $i $route.policy (include "portcullis.policyDir" $)) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $.Values.mode "sidecar") (not (regexMatch "^http://(127\\.0\\.0\\.1|localhost|\\[::1\\])[:/]" $route.upstream)) -}}
{{- fail (printf "config.routes[%d].upstream: %q (expected in sidecar mode: the MCP server on loopback, http://127.0.0.1:<port>/...)" $i $route.upstream) -}}
{{- end -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
