"""``python -m bot.cli``: the same as the ``surveybot`` console script."""

from bot.cli import main

if __name__ == "__main__":
    main()
