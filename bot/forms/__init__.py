"""XLSForm in and out, and translation sheets (``surveybot import``, ``export-form``, ``translations``).

Council and research teams write surveys as XLSForm spreadsheets (KoBoToolbox, ODK, SurveyCTO)
and commission translators who work in spreadsheets. This package turns an XLSForm into a flow
(:mod:`bot.forms.importer`), a flow back into an XLSForm (:mod:`bot.forms.exporter`), and a
flow's respondent-facing texts into a sheet for translators and back
(:mod:`bot.forms.translations`). Workbooks are read by pyxform, the reference implementation of
XLSForm (:mod:`bot.forms.workbook`); flow files are written with ruamel.yaml so officers'
comments and layout survive (:mod:`bot.forms.yamlio`).
"""
