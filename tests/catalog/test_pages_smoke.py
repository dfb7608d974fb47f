from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.catalog.factories import small_catalog


def test_home_renders(db: Session, client: TestClient) -> None:
    small_catalog(db)
    response = client.get("/")
    assert response.status_code == 200, response.text
    assert "Cables" in response.text
