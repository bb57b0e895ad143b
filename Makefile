# make train | make test: each creates .venv and installs on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= ../shared/data
ARGS   ?=

.PHONY: install trackers data train sweep test smoke bench lint tensorboard clean

install: $(VENV)/.installed

# The dependencies only, at the versions the README's numbers were measured with
# (constraints.txt); the code runs from this folder (python -m src.train).
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt '.[dev]'
	touch $@

# The optional experiment trackers (logger=mlflow|wandb|many), which the tests run too.
trackers: $(VENV)/.trackers

$(VENV)/.trackers: $(VENV)/.installed
	$(PY) -m pip install --quiet -c constraints.txt '.[dev,trackers]'
	touch $@

# Copy the offline datasets when they exist; otherwise torchvision downloads on first run.
data:
	@if [ -d $(SHARED) ]; then \
		for d in MNIST FashionMNIST; do \
			if [ -d $(SHARED)/$$d ] && [ ! -d data/$$d/raw ]; then \
				mkdir -p data/$$d && cp -r $(SHARED)/$$d/raw data/$$d/ && chmod -R u+w data/$$d; \
			fi; \
		done; \
	fi

train: install data
	$(PY) -m src.train $(ARGS)

sweep: install data
	$(PY) -m src.train -m 'model.hidden=[],[32],[128],[512],[32,32],[128,128],[512,512]' \
		hydra/launcher=joblib threads=1 $(ARGS)

bench: install data
	$(PY) -m benchmarks.bench $(ARGS)

# Every test, as CI runs it: lint first, then the whole suite, a worker per core (most tests
# wait on a command of their own; the Slurm tests share one worker, as they share the cluster).
test: trackers data lint
	$(PY) -m pytest -n auto --dist loadgroup $(ARGS)

# The edit loop's check: the fast unit tests, under a minute.
smoke: install
	$(PY) -m pytest -m "smoke and not slow" -q $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

tensorboard: install
	$(VENV)/bin/tensorboard --logdir outputs

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
