print("placeholder: this benchmark arrives with its issue")
