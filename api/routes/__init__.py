"""One router per resource: reports, cases, tasks, and administration (who am I, the command catalogue,
signing keys). Their shared dependencies are api/deps.py; what each route does is api/service.py."""
