"""Hydra's refusals of a command line, in the project's one line: an unknown option of a
config group, an unknown key, a malformed override. Hydra words them over many lines and
advises `+key=value` even for a misspelt key; `src.run.failures.entry_point` has Hydra raise
them and words them here."""

import difflib
import inspect
import re
import sys

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from src.config.hydra import CONF, register
from src.config.schema import (
    ConfigError,
    nested_schema_keys,
    schema_keys,
    typed,
    unknown_key,
)

GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"
OVERRIDE = re.compile(r"Could not override '([^']+)'")  # Hydra's wording: a test pins it


def refusal(e: Exception, config_name: str) -> str:
    """The one line for Hydra's refusal `e` of a command line for conf/<config_name>.yaml."""
    if isinstance(e, OverrideParseException):
        return f"{e.override}: {str(e).splitlines()[0]} (the syntax: {GRAMMAR})"
    if isinstance(e, MissingConfigException) and e.missing_cfg_file and e.options:
        group, _, option = e.missing_cfg_file.rpartition("/")
        return unknown_option(group, option, sorted(e.options))
    if isinstance(e.__cause__, (ConfigAttributeError, ConfigKeyError)) and e.__cause__.full_key:
        full_key = e.__cause__.full_key
        return unknown_setting(full_key, sys_override(full_key), config_name)
    if (named := OVERRIDE.match(str(e))) is not None:
        return not_in_defaults(named.group(1))
    return str(e).splitlines()[0]


def unknown_option(group: str, option: str, options: list[str]) -> str:
    line = f"{group}={option} is not a {group} option ({', '.join(options)})"
    if group == "model" and (layers := re.fullmatch(r"mlp(\d+)", option)):
        hidden = max(int(layers.group(1)) - 1, 0)  # mlp3 is 3 weight layers: 2 hidden
        return f"{line}: for {hidden} hidden layers write model=mlp model.depth={hidden}"
    if close := difflib.get_close_matches(option, options, n=1):
        return f"{line}: did you mean {group}={close[0]}?"
    return line


def unknown_setting(full_key: str, value: str | None, config_name: str) -> str:
    """A key the composed config lacks: the schema's own refusal where the schema knows the
    key (model.width beside model=mlp3), else the keys its section has."""
    section, _, name = full_key.rpartition(".")
    if config_name == "train" and name in schema_keys(section) and value is not None:
        try:
            typed(compose_quietly(config_name, [f"+{full_key}={value}"]))
        except ConfigError as refused:
            return str(refused)
        return f"{full_key} is not in this config: +{full_key}={value} adds it"
    node = compose_quietly(config_name, [])
    keys = list(OmegaConf.select(node, section) if section else node)
    if config_name == "train":
        keys = list(dict.fromkeys([*keys, *schema_keys(section)]))
    nested = nested_keys(node, config_name) if not section else []
    return unknown_key(full_key, [k for k in keys if k != "hydra"], nested)


def nested_keys(node: DictConfig, config_name: str) -> list[str]:
    """The dotted keys below the top level that a top-level key may abbreviate, the likelier
    first: the composed config's, then for training the schema's and every lightning.Trainer
    argument (trainer.<any>=... is open)."""
    composed = [key for key in leaves(OmegaConf.to_container(node)) if not key.startswith("hydra.")]
    if config_name != "train":
        return composed
    import lightning as L  # src.train has loaded it already

    arguments = inspect.signature(L.Trainer.__init__).parameters
    trainer = [f"trainer.{a}" for a in arguments if a not in ("self", "logger", "callbacks")]
    return list(dict.fromkeys([*composed, *nested_schema_keys(), *trainer]))


def leaves(node: object, prefix: str = "") -> list[str]:
    """The dotted keys of a nested dict's values that are not themselves dicts, below its top."""
    if not isinstance(node, dict):
        return [prefix] if "." in prefix else []
    return [key for k, v in node.items() for key in leaves(v, f"{prefix}.{k}" if prefix else k)]


def not_in_defaults(key: str) -> str:
    groups = sorted(p.name for p in CONF.iterdir() if p.is_dir())
    if key in groups:
        options = ", ".join(sorted(p.stem for p in (CONF / key).glob("*.yaml")))
        return f"{key} is a group the defaults leave out: add it with +{key}=<option> ({options})"
    close = difflib.get_close_matches(key, groups, n=1)
    hint = f": did you mean {close[0]}=...?" if close else f" (config groups: {', '.join(groups)})"
    return f"{key} is not a config group or setting{hint}"


def sys_override(full_key: str) -> str | None:
    """The value the command line gave `full_key`."""
    for arg in sys.argv[1:]:
        key, sep, value = arg.lstrip("+~").partition("=")
        if sep and key == full_key:
            return value
    return None


def compose_quietly(config_name: str, overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name, overrides=overrides)
