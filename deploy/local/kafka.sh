#!/usr/bin/env bash
# Apache Kafka, single KRaft node on 127.0.0.1, jars from Maven Central cached in .local/kafka/lib.
# usage: kafka.sh start|stop|status
source "$(dirname "$0")/common.sh"
KAFKA_DIR="$LOCAL_DIR/kafka"
LIB="$KAFKA_DIR/lib"
PIDFILE="$KAFKA_DIR/kafka.pid"
CONF="$KAFKA_DIR/server.properties"

fetch_jars() {
  if [ -f "$LIB/.complete-$KAFKA_VERSION" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Kafka's jars"
  command -v java >/dev/null || die "java not found: Java 17 is needed to run Kafka"
  say "fetching Kafka $KAFKA_VERSION jars with Maven (once; cached in $LIB)"
  rm -rf "$LIB"; mkdir -p "$LIB"
  mvn -q -B -f "$REPO_ROOT/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
      -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$LIB" >"$LOG_DIR/kafka-maven.log" 2>&1 \
    || { tail -20 "$LOG_DIR/kafka-maven.log" >&2; die "Maven could not fetch Kafka jars (log: $LOG_DIR/kafka-maven.log)"; }
  touch "$LIB/.complete-$KAFKA_VERSION"
}

write_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$CONF" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
CONF
}

start() {
  refuse_other_stack Kafka "$PIDFILE" "$KAFKA_PORT"
  if pid_alive "$PIDFILE" && port_open "$KAFKA_PORT"; then say "Kafka $KAFKA_VERSION already running on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  refuse_half_started Kafka "$PIDFILE" "$KAFKA_PORT"
  if port_open "$KAFKA_PORT"; then die "port $KAFKA_PORT is taken by another process; set STAGETRACK_KAFKA_PORT"; fi
  if port_open "$KAFKA_CONTROLLER_PORT"; then
    die "port $KAFKA_CONTROLLER_PORT (Kafka's controller) is taken by another process; set STAGETRACK_KAFKA_CONTROLLER_PORT"
  fi
  fetch_jars
  write_config
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    java -cp "$LIB/*" kafka.tools.StorageTool format --config "$CONF" \
      --cluster-id "$(java -cp "$LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
      >"$LOG_DIR/kafka-format.log" 2>&1 || { cat "$LOG_DIR/kafka-format.log" >&2; die "Kafka storage format failed"; }
  fi
  say "starting Kafka $KAFKA_VERSION (KRaft) on 127.0.0.1:$KAFKA_PORT"
  # setsid: its own process group, so Ctrl-C in a foreground `make run` does not reach it.
  KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx768m -Xms256m}" setsid java ${KAFKA_HEAP_OPTS:--Xmx768m -Xms256m} \
    -Dlog4j2.configurationFile="$REPO_ROOT/deploy/local/kafka/log4j2.properties" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$LIB/*" kafka.Kafka "$CONF" >"$LOG_DIR/kafka.log" 2>&1 < /dev/null &
  echo $! >"$PIDFILE"
  echo "$KAFKA_PORT" >"$(port_file "$PIDFILE")"
  if ! wait_for "Kafka $KAFKA_VERSION" 90 grep -q "Kafka Server started" "$LOG_DIR/kafka.log"; then
    tail -30 "$LOG_DIR/kafka.log" >&2
    die "Kafka did not become ready in 90 s (log: $LOG_DIR/kafka.log)"
  fi
  grep -m1 -o "Kafka version: [0-9.]*" "$LOG_DIR/kafka.log" | sed 's/^/[stack] /' >&2 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop_pidfile Kafka "$PIDFILE" "$KAFKA_PORT" ;;
  status) if pid_alive "$PIDFILE" && port_open "$KAFKA_PORT"; then echo "kafka up 127.0.0.1:$KAFKA_PORT"; else echo "kafka down"; exit 1; fi ;;
  *) die "usage: $0 start|stop|status" ;;
esac
