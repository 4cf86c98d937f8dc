"""The marketplace of providers and the person's own page (namespace ``site``)."""

from django.urls import path

from apps.site import views_marketplace as marketplace
from apps.site import views_mypage as mypage

urlpatterns = [
    path("providers/", marketplace.MarketplaceView.as_view(), name="marketplace"),
    path("providers/<int:pk>/", marketplace.ProviderView.as_view(), name="provider"),
    path("providers/<int:pk>/choose/", marketplace.ChooseView.as_view(), name="choose"),
    path("providers/<int:pk>/rate/", marketplace.RateView.as_view(), name="rate"),
    path("me/", mypage.MyPageView.as_view(), name="mypage"),
    path("me/consents/", mypage.ConsentsView.as_view(), name="consents"),
    path("me/consents/withdraw/", mypage.WithdrawView.as_view(), name="withdraw"),
    path("me/data/", mypage.MyDataView.as_view(), name="mydata"),
]
