# Everything a newcomer needs: `make run` and `make test`. Both set up what is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | cksum | cut -d' ' -f1)

export VCS_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/voicecampaign
export VCS_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/
# Development only: the secret the mock carrier and the api share to sign callbacks.
export VCS_CALLBACK_SECRET ?= dev-callback-secret
# Development only: the mock carrier's Twilio account (its Twilio API is on with one).
export VCS_TWILIO_ACCOUNT_SID ?= AC00000000000000000000000000000dev
export VCS_TWILIO_AUTH_TOKEN ?= dev-twilio-auth-token
# Development only, for `make run` alone (tests and benchmarks say what they need): encrypts
# webhook secrets at rest (a Fernet key), and lets webhooks reach receivers on this machine.
run: export VCS_WEBHOOK_SECRET_KEY ?= ZGV2LXdlYmhvb2stc2VjcmV0LWtleS0wMDAwMDAwMDA=
run: export VCS_WEBHOOK_ALLOW_PRIVATE ?= true

UI := services/ui
UI_DEPS := $(UI)/node_modules/.package-lock.json
UI_SOURCES := $(shell find $(UI)/src $(UI)/index.html $(UI)/vite.config.ts $(UI)/tsconfig.json -type f 2>/dev/null)

.PHONY: run run-twilio test test-unit test-integration test-e2e test-pythons test-faults test-compose compose-tools soak \
	ui browser k8s-tools install db topology schema rabbitmq-management lint format bench place-data \
	clean test-cluster

run: install rabbitmq-management db topology
	@echo ""
	@echo "  Web console:         http://127.0.0.1:$${VCS_API_PORT:-8081}/"
	@echo "  API:                 http://127.0.0.1:$${VCS_API_PORT:-8081}/api/v1/campaigns"
	@echo "  API key:             $$($(BIN)/python -m services.api keys ensure-dev)  (kept in .dev-api-key)"
	@echo "  RabbitMQ management: http://127.0.0.1:15672 (guest/guest)"
	@echo "  Mock carrier:        http://127.0.0.1:$${VCS_MOCK_HTTP_PORT:-8090}/mock/stats"
	@echo "  Ctrl-C stops all four services."
	@echo ""
	$(BIN)/honcho start -f Procfile

# The same stack, the worker dialling through the Twilio REST adapter against the mock's
# Twilio API, results coming back as signed status callbacks to the api.
run-twilio: export VCS_TELEPHONY_PROVIDER = twilio
run-twilio: export VCS_TWILIO_BASE_URL ?= http://127.0.0.1:$(or $(VCS_MOCK_HTTP_PORT),8090)
run-twilio: export VCS_TWILIO_FROM ?= +15005550006
run-twilio: export VCS_TWILIO_TWIML_URL ?= http://127.0.0.1:$(or $(VCS_MOCK_HTTP_PORT),8090)/mock/twiml
run-twilio: export VCS_PUBLIC_BASE_URL ?= http://127.0.0.1:$(or $(VCS_API_PORT),8081)
run-twilio: run

test: install rabbitmq-management browser k8s-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services
	cd $(UI) && npx tsc --noEmit && npx vitest run
	$(BIN)/pytest

# The three speeds of the suite on their own (make test runs them all, with the linters).
test-unit: install k8s-tools
	$(BIN)/pytest tests/unit

test-integration: install
	$(BIN)/pytest tests/integration

# The unit tests under every other Python that requires-python allows, each in a venv of its
# own (.venv-3.12, .venv-3.13): pyenv's interpreter of that version, else python3.X on PATH.
OTHER_PYTHONS := 3.12 3.13
python_for = $(or $(addsuffix /bin/python,$(shell pyenv prefix $(1) 2>/dev/null)),python$(1))

test-pythons: k8s-tools $(foreach v,$(OTHER_PYTHONS),.venv-$(v)/.installed)
	for v in $(OTHER_PYTHONS); do .venv-$$v/bin/pytest tests/unit || exit 1; done

.venv-%/.installed: pyproject.toml constraints.txt
	$(call python_for,$*) -m venv .venv-$*
	.venv-$*/bin/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

test-e2e: install browser
	$(BIN)/pytest tests/e2e tests/faults/test_quick.py

# The fault-injection suite (about 20 minutes): processes killed, the broker and the database
# restarted, consumers cancelled, a bad network, a thousand bad requests; its figures go to
# test-artifacts/faults.md (docs/reliability.md shows them). It starts RabbitMQ nodes and
# PostgreSQL clusters of its own, so it needs rabbitmq-server and PostgreSQL's binaries.
test-faults: install rabbitmq-management
	rm -f test-artifacts/faults.md
	$(BIN)/pytest -m "faults or own_infra" tests/faults tests/integration/test_own_infra.py

# Past one machine (issue 17): a PostgreSQL primary and synchronous standby of the test's own,
# failed over mid-campaign (the services find the new primary through a multi-host URL),
# standby dispatchers, and a three-node RabbitMQ cluster with quorum queues losing a node and
# restarting whole. Long (minutes), so not in `make test`; needs PostgreSQL's binaries and
# rabbitmq-server, as test-faults does.
test-cluster: install rabbitmq-management
	$(BIN)/pytest -m cluster tests/cluster

# docker-compose.yml run for real (issue 17): podman with runc on the host's network, the base
# images built from Debian's packages (debootstrap, podman import; public image registries are
# not reachable here), our images from deploy/ on them; a campaign through the api container,
# every health check run, then down: 2.5 minutes with no image built, 1 minute after
# (docs/scaling.md). Installs Debian's podman, runc and debootstrap.
test-compose: install compose-tools
	$(BIN)/pytest -m compose tests/compose

compose-tools:
	@for tool in podman runc debootstrap; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then apt-get install -y -q$$missing >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null && apt-get install -y -q$$missing >/dev/null; } \
		|| { echo "make compose-tools: could not install$$missing (Debian packages)"; exit 1; }; fi

# A mixed workload for SOAK_MINUTES (30) with a worker SIGKILLed every few minutes; samples
# every minute and fails unless memory, files, connections and history-free tables stay flat.
SOAK_MINUTES ?= 30
soak: install rabbitmq-management
	$(BIN)/python -m tests.faults.soak --minutes $(SOAK_MINUTES)

install: $(STAMP) ui

# The web console: its npm packages when the lock file changes, a build when a source does.
ui: $(UI)/dist/index.html

$(UI_DEPS): $(UI)/package.json $(UI)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "the web console needs Node.js 20.19+ and npm"; exit 1; }
	cd $(UI) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI)/dist/index.html: $(UI_DEPS) $(UI_SOURCES)
	cd $(UI) && npm run build --silent

# Debian's Chromium for the console's browser tests; without it they are skipped, saying so.
browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| echo "note: Chromium could not be installed; the console's browser tests will be skipped"

# A kubectl for `kubectl kustomize`, which renders deploy/k8s for its unit test: Debian's
# kubernetes-client (kubectl 1.20, kustomize 2.0.3) unless a kubectl is already there (the
# manifests render alike with today's kustomize).
k8s-tools:
	@command -v kubectl >/dev/null 2>&1 || apt-get install -y -q kubernetes-client >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null && apt-get install -y -q kubernetes-client >/dev/null; } \
		|| { echo "make k8s-tools: could not install kubectl (Debian package kubernetes-client)"; exit 1; }

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

db: install
	$(BIN)/python -m shared.db.migrate

topology: install
	$(BIN)/python -m shared.topology

# docs/schema.sql: the schema after all migrations, dumped from a scratch database on the
# server of VCS_DATABASE_URL (needs pg_dump); a test fails while it is out of date.
schema: install
	$(BIN)/python -m shared.db.schema_dump

# The console at :15672; needs the rabbitmq-plugins tool on this machine, skipped otherwise.
rabbitmq-management:
	@if command -v rabbitmq-plugins >/dev/null 2>&1; then \
		rabbitmq-plugins --quiet enable rabbitmq_management >/dev/null 2>&1 \
		|| echo "note: could not enable the RabbitMQ management plugin (not fatal)"; \
	else echo "note: rabbitmq-plugins not found; management console not enabled"; fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install rabbitmq-management
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk >/dev/null \
		|| { echo "make bench needs wrk (Debian package wrk)"; exit 1; }
	$(BIN)/python -m bench

# The ZIP, area code and country-zone tables recipient_zones reads (shared/domain/data/),
# regenerated from the zipcodes, phonenumbers and tzdata packages; commit what changes.
place-data: install
	$(BIN)/python -m tests.support.place_data

clean:
	rm -rf $(VENV) $(foreach v,$(OTHER_PYTHONS),.venv-$(v)) .pytest_cache .ruff_cache .mypy_cache
