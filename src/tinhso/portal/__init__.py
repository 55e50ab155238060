"""Server-rendered pages (Jinja2 + HTMX + ECharts), Vietnamese first."""
