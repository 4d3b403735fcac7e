{{- define "ipt.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "ipt.labels" -}}
app.kubernetes.io/name: ipt
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ipt
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ipt.selector" -}}
app.kubernetes.io/name: ipt
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ipt.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end -}}

{{/* Kafka client settings for every service: bootstrap, config as KAFKA_* variables, secret variables. */}}
{{- define "ipt.kafkaEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
{{- range $key, $value := .Values.kafka.config }}
- name: {{ printf "KAFKA_%s" ($key | replace "." "_" | upper) }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Secrets as environment: Kafka's for every service; the checkpoint store's only where "checkpoints" is true. */}}
{{- define "ipt.envFrom" -}}
{{- $v := .root.Values }}
{{- $checkpoints := and .checkpoints $v.checkpoints.store $v.checkpoints.existingSecret }}
{{- if or $v.kafka.existingSecret $checkpoints }}
envFrom:
  {{- if $v.kafka.existingSecret }}
  - secretRef:
      name: {{ $v.kafka.existingSecret }}
  {{- end }}
  {{- if $checkpoints }}
  - secretRef:
      name: {{ $v.checkpoints.existingSecret }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Environment every JVM service shares: status port, stop bound, writable locations on a read-only root filesystem. */}}
{{- define "ipt.commonEnv" -}}
- name: IPT_STATUS_PORT
  value: {{ .Values.statusPort | quote }}
- name: IPT_STATUS_BIND
  value: {{ .Values.statusBindAddress | quote }}
- name: IPT_STOP_SECONDS
  value: {{ .Values.stopSeconds | quote }}
- name: HOME
  value: /tmp
- name: DJL_CACHE_DIR
  value: /tmp/djl
{{- end -}}

{{- define "ipt.extraEnv" -}}
{{- range $key, $value := . }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "ipt.statusPort" -}}
- name: status
  containerPort: {{ .Values.statusPort }}
  protocol: TCP
{{- end -}}

{{- define "ipt.probes" -}}
readinessProbe:
  httpGet: {path: /healthz, port: status}
  periodSeconds: 10
  failureThreshold: 3
livenessProbe:
  httpGet: {path: /healthz, port: status}
  initialDelaySeconds: 60
  periodSeconds: 20
  failureThreshold: 6
{{- end -}}

{{- define "ipt.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{ toYaml . | nindent 2 }}
{{- end }}
securityContext: {{ toYaml .Values.podSecurityContext | nindent 2 }}
# IPT_STOP_SECONDS for the process to stop by itself (it exits 1 then at the latest), and 10 s for the JVM to exit.
terminationGracePeriodSeconds: {{ add .Values.stopSeconds 10 }}
{{- with .Values.nodeSelector }}
nodeSelector: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{ toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "ipt.kafkaTlsVolume" -}}
{{- if .Values.kafka.tlsSecret }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tlsSecret }}
{{- end }}
{{- end -}}

{{- define "ipt.kafkaTlsMount" -}}
{{- if .Values.kafka.tlsSecret }}
- name: kafka-tls
  mountPath: /etc/ipt/kafka-tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "ipt.checkpointsClaim" -}}
{{- .Values.checkpoints.existingClaim | default (printf "%s-checkpoints" (include "ipt.fullname" .)) -}}
{{- end -}}


{{/* The checkpoint store's settings (trainers and evaluator). */}}
{{- define "ipt.checkpointEnv" -}}
- name: IPT_CHECKPOINT_STORE
  value: {{ .Values.checkpoints.store | default "/data/checkpoints" | quote }}
{{- if .Values.checkpoints.store }}
- name: AWS_REGION
  value: {{ .Values.checkpoints.region | quote }}
{{- with .Values.checkpoints.s3Endpoint }}
- name: IPT_S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* /data/checkpoints: the shared claim, or with a bucket store a local cache. */}}
{{- define "ipt.checkpointVolume" -}}
- name: checkpoints
{{- if .root.Values.checkpoints.store }}
  emptyDir: {}
{{- else }}
  persistentVolumeClaim:
    claimName: {{ include "ipt.checkpointsClaim" .root }}
    readOnly: {{ .readOnly }}
{{- end }}
{{- end -}}

{{/*
IPT_DEVICE of a component that runs a model: cuda needs a GPU in the pod, so the chart refuses cuda without a
resources.limits "nvidia.com/gpu" (the NVIDIA device plugin's resource) rather than render a pod that would be refused
at start. Args: dict "device" "resources" "values" (the values path, for the message).
*/}}
{{- define "ipt.deviceEnv" -}}
{{- if and (hasPrefix "cuda" .device) (not (hasKey ((.resources).limits | default dict) "nvidia.com/gpu")) }}
{{- fail (printf `%s.device=%s needs a GPU in the pod: set %s.resources.limits."nvidia.com/gpu" (e.g. 1) and use an image built with -Pcuda` .values .device .values) }}
{{- end -}}
- name: IPT_DEVICE
  value: {{ .device | quote }}
{{- end }}
