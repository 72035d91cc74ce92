from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from audit.services import audit_refusal
        from ledgerflow.db import refused

        refused.connect(audit_refusal, dispatch_uid="audit.services.audit_refusal")
