{{/* The release's name for its objects: "<release>-stagetrack", or the release alone when it says stagetrack. */}}
{{- define "stagetrack.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select one component's pods: called with (dict "root" $ "component" NAME). */}}
{{- define "stagetrack.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "stagetrack.labels" -}}
{{ include "stagetrack.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "stagetrack.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* A variable from a key of an existing Secret: (dict "env" NAME "secret" .Values.secrets.X). */}}
{{- define "stagetrack.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret.name }}
      key: {{ .secret.key }}
{{- end -}}

{{/* Every container's environment: (dict "root" $ "component" NAME "settings" the component's own settings).
     The component's port variable is set only for the services (migration has none). */}}
{{- define "stagetrack.env" -}}
{{- $values := .root.Values -}}
- name: STAGETRACK_ENVIRONMENT
  value: {{ $values.environment | quote }}
- name: STAGETRACK_KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required: the Kafka brokers, host:port comma-separated" $values.kafka.bootstrapServers | quote }}
- name: STAGETRACK_TOPIC_PARTITIONS
  value: {{ $values.kafka.partitions | quote }}
- name: STAGETRACK_DATABASE_SCHEMA
  value: {{ $values.database.schema | quote }}
{{- $database := $values.secrets.databaseUrl }}
{{- $_ := required "secrets.databaseUrl.name is required: an existing Secret holding STAGETRACK_DATABASE_URL" $database.name }}
{{ include "stagetrack.secretEnv" (dict "env" "STAGETRACK_DATABASE_URL" "secret" $database) }}
{{- if or (eq .component "engine") (eq .component "ingest") }}
{{- $_ := required "secrets.identityHashKey.name is required: an existing Secret holding STAGETRACK_IDENTITY_HASH_KEY" $values.secrets.identityHashKey.name }}
{{ include "stagetrack.secretEnv" (dict "env" "STAGETRACK_IDENTITY_HASH_KEY" "secret" $values.secrets.identityHashKey) }}
{{- $_ := required "secrets.masterKeys.name is required: an existing Secret holding STAGETRACK_MASTER_KEYS" $values.secrets.masterKeys.name }}
{{ include "stagetrack.secretEnv" (dict "env" "STAGETRACK_MASTER_KEYS" "secret" $values.secrets.masterKeys) }}
- name: STAGETRACK_MASTER_KEY_ID
  value: {{ $values.masterKeyId | quote }}
{{- end }}
{{- if and (eq .component "ingest") $values.secrets.hubspotAppSecret.name }}
{{ include "stagetrack.secretEnv" (dict "env" "STAGETRACK_HUBSPOT_APP_SECRET" "secret" $values.secrets.hubspotAppSecret) }}
{{- end }}
{{- if ne .component "migration" }}
- name: STAGETRACK_{{ upper .component }}_PORT
  value: {{ (index $values .component).port | quote }}
{{- end }}
{{- range $name, $value := merge (dict) (.settings | default dict) $values.settings }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* What every stagetrack pod shares: security, scheduling, the writable /tmp, the operator's volumes. */}}
{{- define "stagetrack.podSpec" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  {{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
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

{{/* What every stagetrack container shares: the image, its security, the mounts, envFrom. */}}
{{- define "stagetrack.container" -}}
image: {{ include "stagetrack.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .Values.extraEnvFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
