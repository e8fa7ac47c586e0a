public enum DevmeshProxyModule {}
