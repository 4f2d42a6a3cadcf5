"""Officers' results and outreach tools, each in its own module.

``export`` and ``report`` are pure (a flow and responses in, a file's content out); ``commands``
holds the ``surveybot export`` and ``surveybot report`` subcommands that read the store.
"""
