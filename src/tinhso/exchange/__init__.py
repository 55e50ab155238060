"""The provincial data integration and sharing platform (LGSP): services, grants, gateway, audit."""
