"""Flask extensions, created unbound and initialised by the app factory."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from socialforce.platform.inputs import page_number

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BoundedSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose `paginate` reads ?page= with the bounded parser (its own accepts 20-digit pages)."""

    def paginate(self, select, *, page: int | None = None, **kwargs):
        """One page of `select`; `page` defaults to the request's bounded ?page=."""
        return super().paginate(select, page=page_number() if page is None else page, **kwargs)


db = BoundedSQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
