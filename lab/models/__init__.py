"""Calling models: the one module that imports litellm, and finding the models a learner can use."""
