import pytest


@pytest.mark.django_db
def test_owner_sees_dashboard(personas, client_for):
    response = client_for(personas.owner).get("/")
    assert response.status_code == 200
    assert b"Acme Bakery Ltd" in response.content
