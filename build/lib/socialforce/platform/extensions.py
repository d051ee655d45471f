"""Flask extensions, created unbound and initialised by the app factory."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.pagination import SelectPagination
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


class RowsPagination(SelectPagination):
    """A page of a select of several labelled columns: its items are whole rows, as mappings by label."""

    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).mappings())


class BoundedSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose `paginate` reads ?page= with the bounded parser (its own accepts 20-digit pages)."""

    def paginate(self, select, *, page: int | None = None, rows: bool = False, **kwargs):
        """One page of `select`; `page` defaults to the request's bounded ?page=; `rows` pages whole rows.

        Without `rows` the items are the first column's values (Flask-SQLAlchemy's own), with it the rows as mappings.
        """
        page = page_number() if page is None else page
        if rows:
            return RowsPagination(select=select, session=self.session(), page=page, **kwargs)
        return super().paginate(select, page=page, **kwargs)


db = BoundedSQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
