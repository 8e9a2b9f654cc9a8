#!/bin/sh
set -eu
cat > /etc/rabbitmq/rabbitmq.conf <<CONF
listeners.tcp.default = ${RABBITMQ_NODE_IP_ADDRESS:+$RABBITMQ_NODE_IP_ADDRESS:}$RABBITMQ_NODE_PORT
management.tcp.port = $RABBITMQ_MANAGEMENT_PORT
management.tcp.ip = ${RABBITMQ_NODE_IP_ADDRESS:-0.0.0.0}
CONF
exec "$@"
