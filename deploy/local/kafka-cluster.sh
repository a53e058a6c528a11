#!/usr/bin/env bash
# Three Apache Kafka brokers on 127.0.0.1 as production runs them: KRaft (each node a broker and a controller),
# topics replicated three times, clients and brokers authenticated with SCRAM over TLS (SASL_SSL). For the
# broker-loss test (tests/e2e/test_kafka_cluster.py) and for trying the services' Kafka security settings by hand.
# A cluster of its own beside the local stack's single broker (kafka.sh), which it never touches; the same jars.
# usage: kafka-cluster.sh start|stop|status|kill NODE   (kill: SIGKILL broker NODE, 1-3, as a crash would)
#
# STAGETRACK_KAFKA_CLUSTER_DIR               data, configuration, logs, pid files (default: .local/kafka-cluster)
# STAGETRACK_KAFKA_CLUSTER_PORTS             the brokers' SASL_SSL ports (default: 29092,29093,29094)
# STAGETRACK_KAFKA_CLUSTER_CONTROLLER_PORTS  the controllers' ports, PLAINTEXT on 127.0.0.1 (default: 29192,29193,29194)
# STAGETRACK_KAFKA_CLUSTER_TLS_DIR           (required) ca.crt, the CA every certificate is signed by, and broker.pem,
#                                            the brokers' unencrypted PKCS#8 private key followed by their certificate
#                                            (valid for 127.0.0.1); brokers present it to clients and to each other
# STAGETRACK_KAFKA_CLUSTER_CLIENT_AUTH       required (default: clients present a certificate signed by ca.crt too)
#                                            or none (SCRAM alone)
# STAGETRACK_KAFKA_CLUSTER_BROKER_PASSWORD   (required) SCRAM-SHA-512 password of `broker`, the brokers' own user
# STAGETRACK_KAFKA_CLUSTER_USER              the services' user (default: stagetrack), SCRAM-SHA-256 and -512
# STAGETRACK_KAFKA_CLUSTER_PASSWORD          (required) its password
# The SCRAM credentials are written into each node's storage when it is formatted (first start): KRaft has no
# other way to let brokers authenticate to each other before the cluster runs.
source "$(dirname "$0")/common.sh"
DIR="${STAGETRACK_KAFKA_CLUSTER_DIR:-$LOCAL_DIR/kafka-cluster}"
IFS=, read -r -a PORTS <<<"${STAGETRACK_KAFKA_CLUSTER_PORTS:-29092,29093,29094}"
IFS=, read -r -a CONTROLLER_PORTS <<<"${STAGETRACK_KAFKA_CLUSTER_CONTROLLER_PORTS:-29192,29193,29194}"
NODES=(1 2 3)
for port in "${PORTS[@]}" "${CONTROLLER_PORTS[@]}"; do
  [[ "$port" =~ ^[0-9]+$ ]] && (( port > 0 && port < 65536 )) || die "not a TCP port number: '$port'"
done
(( ${#PORTS[@]} == 3 && ${#CONTROLLER_PORTS[@]} == 3 )) || die "three ports and three controller ports, comma-separated"

pidfile() { echo "$DIR/node-$1/kafka.pid"; }
bootstrap() { local IFS=,; echo "${PORTS[*]/#/127.0.0.1:}"; }

write_config() {
  local node="$1" tls="$STAGETRACK_KAFKA_CLUSTER_TLS_DIR" voters="" n
  for n in "${NODES[@]}"; do voters+="${voters:+,}$n@127.0.0.1:${CONTROLLER_PORTS[n-1]}"; done
  local scram="org.apache.kafka.common.security.scram.ScramLoginModule required"
  mkdir -p "$DIR/node-$node/data"
  cat >"$DIR/node-$node/server.properties" <<CONF
process.roles=broker,controller
node.id=$node
controller.quorum.voters=$voters
listeners=SASL_SSL://127.0.0.1:${PORTS[node-1]},CONTROLLER://127.0.0.1:${CONTROLLER_PORTS[node-1]}
advertised.listeners=SASL_SSL://127.0.0.1:${PORTS[node-1]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram username="broker" password="$STAGETRACK_KAFKA_CLUSTER_BROKER_PASSWORD";
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.crt
# On a SASL listener Kafka reads the client-certificate rule only with the listener prefix.
listener.name.sasl_ssl.ssl.client.auth=${STAGETRACK_KAFKA_CLUSTER_CLIENT_AUTH:-required}
log.dirs=$DIR/node-$node/data
num.partitions=6
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
auto.create.topics.enable=false
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.retention.hours=-1
CONF
}

# The storage of every node formatted at once (three JVMs in parallel), with the same cluster id and the SCRAM users.
format_all() {
  local id user="${STAGETRACK_KAFKA_CLUSTER_USER:-stagetrack}" node pids=()
  id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  for node in "${NODES[@]}"; do
    [ -f "$DIR/node-$node/data/meta.properties" ] && continue
    java -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format --config "$DIR/node-$node/server.properties" \
      --cluster-id "$id" \
      --add-scram "SCRAM-SHA-512=[name=broker,password=$STAGETRACK_KAFKA_CLUSTER_BROKER_PASSWORD]" \
      --add-scram "SCRAM-SHA-256=[name=$user,password=$STAGETRACK_KAFKA_CLUSTER_PASSWORD]" \
      --add-scram "SCRAM-SHA-512=[name=$user,password=$STAGETRACK_KAFKA_CLUSTER_PASSWORD]" \
      >"$DIR/node-$node/format.log" 2>&1 &
    pids+=("$!")
  done
  for node in "${!pids[@]}"; do
    wait "${pids[node]}" || { cat "$DIR"/node-*/format.log >&2; die "Kafka storage format failed"; }
  done
}

start() {
  local node tls="${STAGETRACK_KAFKA_CLUSTER_TLS_DIR:-}"
  [ -n "$tls" ] && [ -f "$tls/ca.crt" ] && [ -f "$tls/broker.pem" ] \
    || die "STAGETRACK_KAFKA_CLUSTER_TLS_DIR must name a folder holding ca.crt and broker.pem"
  [ -n "${STAGETRACK_KAFKA_CLUSTER_BROKER_PASSWORD:-}" ] && [ -n "${STAGETRACK_KAFKA_CLUSTER_PASSWORD:-}" ] \
    || die "set STAGETRACK_KAFKA_CLUSTER_BROKER_PASSWORD and STAGETRACK_KAFKA_CLUSTER_PASSWORD"
  for node in "${NODES[@]}"; do
    if pid_alive "$(pidfile "$node")"; then die "node $node of $DIR runs already (pid $(cat "$(pidfile "$node")"))"; fi
    for port in "${PORTS[node-1]}" "${CONTROLLER_PORTS[node-1]}"; do
      if port_open "$port"; then die "port $port is taken by another process"; fi
    done
  done
  fetch_kafka_jars
  for node in "${NODES[@]}"; do write_config "$node"; done
  format_all
  say "starting three Kafka $KAFKA_VERSION brokers (KRaft, SASL_SSL) on $(bootstrap)"
  for node in "${NODES[@]}"; do
    # setsid: a process group of its own, so a Ctrl-C in the shell that started it does not reach it.
    setsid java ${KAFKA_HEAP_OPTS:--Xmx256m -Xms256m} ${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1} \
      -Dlog4j2.configurationFile="$REPO_ROOT/deploy/local/kafka/log4j2.properties" -Dkafka.logs.dir="$DIR/node-$node" \
      -cp "$KAFKA_LIB/*" kafka.Kafka "$DIR/node-$node/server.properties" >"$DIR/node-$node/kafka.log" 2>&1 </dev/null &
    echo $! >"$(pidfile "$node")"
  done
  for node in "${NODES[@]}"; do
    if ! wait_for "broker $node on 127.0.0.1:${PORTS[node-1]}" 180 grep -q "Kafka Server started" "$DIR/node-$node/kafka.log"
    then
      tail -30 "$DIR/node-$node/kafka.log" >&2
      die "broker $node did not start in 180 s (log: $DIR/node-$node/kafka.log)"
    fi
  done
}

# SIGTERM to every node at once: each moves its leaders away and stops while a quorum of controllers remains; the
# last node cannot (no quorum is left to hear it), so what still runs after STAGETRACK_KAFKA_CLUSTER_STOP_SECONDS
# (default 10) is killed, as a crash would, and its log recovered on the next start.
stop() {
  local node pid deadline=$((SECONDS + ${STAGETRACK_KAFKA_CLUSTER_STOP_SECONDS:-10}))
  for node in "${NODES[@]}"; do
    if pid_alive "$(pidfile "$node")"; then kill -TERM "$(cat "$(pidfile "$node")")" 2>/dev/null || true; fi
  done
  for node in "${NODES[@]}"; do
    pid_alive "$(pidfile "$node")" || { rm -f "$(pidfile "$node")"; continue; }
    pid="$(cat "$(pidfile "$node")")"
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      say "broker $node still runs; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$(pidfile "$node")"
  done
  say "Kafka cluster in $DIR stopped"
}

crash() {
  local node="$1"
  [[ " ${NODES[*]} " == *" $node "* ]] || die "usage: $0 kill 1|2|3"
  pid_alive "$(pidfile "$node")" || die "broker $node of $DIR is not running"
  local pid; pid="$(cat "$(pidfile "$node")")"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$(pidfile "$node")"
  say "broker $node killed (SIGKILL)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  kill) crash "${2:-}" ;;
  status)
    up=0
    for node in "${NODES[@]}"; do
      if pid_alive "$(pidfile "$node")" && port_open "${PORTS[node-1]}"; then
        echo "broker $node up 127.0.0.1:${PORTS[node-1]}"; up=$((up + 1))
      else
        echo "broker $node down"
      fi
    done
    (( up == 3 )) ;;
  *) die "usage: $0 start|stop|status|kill NODE" ;;
esac
