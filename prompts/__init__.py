"""Prompt templates, shipped as files inside the package and loaded by `assistant.prompting`."""
