{{- define "hookflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hookflow.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "hookflow.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hookflow.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "hookflow.secretName" -}}
{{- .Values.existingSecret | default (include "hookflow.fullname" .) -}}
{{- end -}}

{{/* The environment every hookflow container shares. */}}
{{- define "hookflow.env" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "hookflow.secretName" . }}
      key: DATABASE_URL
- name: HOOKFLOW_ADMIN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "hookflow.secretName" . }}
      key: HOOKFLOW_ADMIN_KEY
- name: HOOKFLOW_SECRETS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "hookflow.secretName" . }}
      key: HOOKFLOW_SECRETS_KEY
- name: TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: HOOKFLOW_HTTP_ADDR
  value: "0.0.0.0:8080"
- name: HOOKFLOW_TEMPORAL_UI_URL
  value: {{ .Values.temporal.uiURL | quote }}
{{- if or .Values.temporal.apiKey .Values.existingSecret }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "hookflow.secretName" . }}
      key: TEMPORAL_API_KEY
      optional: true
{{- end }}
{{- if .Values.temporal.tls.enabled }}
- name: TEMPORAL_TLS
  value: "true"
{{- end }}
{{- with .Values.temporal.tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- if .Values.temporal.tls.clientCertSecret }}
- name: TEMPORAL_TLS_CERT
  value: /etc/hookflow/temporal-client/tls.crt
- name: TEMPORAL_TLS_KEY
  value: /etc/hookflow/temporal-client/tls.key
{{- end }}
{{- if .Values.temporal.tls.caSecret }}
- name: TEMPORAL_TLS_CA
  value: /etc/hookflow/temporal-ca/ca.crt
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "hookflow.tlsVolumes" -}}
{{- if or .Values.temporal.tls.clientCertSecret .Values.temporal.tls.caSecret }}
volumes:
{{- with .Values.temporal.tls.clientCertSecret }}
  - name: temporal-client
    secret:
      secretName: {{ . }}
{{- end }}
{{- with .Values.temporal.tls.caSecret }}
  - name: temporal-ca
    secret:
      secretName: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "hookflow.tlsMounts" -}}
{{- if or .Values.temporal.tls.clientCertSecret .Values.temporal.tls.caSecret }}
volumeMounts:
{{- if .Values.temporal.tls.clientCertSecret }}
  - name: temporal-client
    mountPath: /etc/hookflow/temporal-client
    readOnly: true
{{- end }}
{{- if .Values.temporal.tls.caSecret }}
  - name: temporal-ca
    mountPath: /etc/hookflow/temporal-ca
    readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* The pod settings every hookflow pod shares. */}}
{{- define "hookflow.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
