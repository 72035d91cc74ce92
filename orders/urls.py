from django.urls import path

from orders import apis

urlpatterns = [
    path("orders", apis.OrderListCreateApi.as_view(), name="orders"),
    # Before orders/<order_id>, which would otherwise take "deposits" for an order id.
    path("orders/deposits", apis.DepositRecordApi.as_view(), name="order-deposits"),
    path("orders/<str:order_id>", apis.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:order_id>/complete", apis.OrderCompleteApi.as_view(), name="order-complete"),
    path("orders/<str:order_id>/fail", apis.OrderFailApi.as_view(), name="order-fail"),
    path("orders/<str:order_id>/cancel", apis.OrderCancelApi.as_view(), name="order-cancel"),
    path("admin/orders", apis.OrderQueueApi.as_view(), name="admin-orders"),
]
